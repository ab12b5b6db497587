package ai.vl4j.server;

import ai.vl4j.image.RgbImage;
import ai.vl4j.text.Message;
import ai.vl4j.text.Role;
import java.util.ArrayList;
import java.util.List;

/**
 * A parsed request's turns as the template's messages: text parts joined, each image part an image tag at its
 * place, so the text around an image reads as in the official examples ({@code <image_placeholder>Describe this
 * image.}). The server fetches image URLs with its limits; a batch job or LangChain4j reads them its own way.
 */
public final class ChatMessages {
    /** Turns an image_url part's URL into pixels; param names the part in errors. */
    @FunctionalInterface
    public interface ImageSource {
        RgbImage fetch(String url, String param);
    }

    private ChatMessages() {
    }

    public static List<Message> of(ChatRequest request, String imageTag, ImageSource images) {
        List<Message> out = new ArrayList<>();
        for (ChatRequest.Turn turn : request.turns()) {
            StringBuilder text = new StringBuilder();
            List<RgbImage> pictures = new ArrayList<>();
            boolean lastWasText = false;
            for (ChatRequest.Part part : turn.parts()) {
                switch (part) {
                    case ChatRequest.Text t -> {
                        if (lastWasText && !t.text().isEmpty()) {
                            text.append('\n');
                        }
                        text.append(t.text());
                        lastWasText = true;
                    }
                    case ChatRequest.Image img -> {
                        text.append(imageTag);
                        pictures.add(images.fetch(img.url(), img.param()));
                        lastWasText = false;
                    }
                }
            }
            out.add(new Message(turn.user() ? Role.USER : Role.ASSISTANT, text.toString(), pictures));
        }
        return out;
    }
}
