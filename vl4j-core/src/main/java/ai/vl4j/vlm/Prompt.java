package ai.vl4j.vlm;

import ai.vl4j.image.RgbImage;
import java.util.List;

/**
 * A conversation made ready for the model.
 *
 * @param text        the templated prompt ({@code sft_format})
 * @param inputIds    token ids, BOS first, each image placeholder expanded to numImageTokens copies of its id
 * @param images      the images, in placeholder order
 * @param imageStarts index in inputIds of the first id of each image's span
 */
public record Prompt(String text, int[] inputIds, List<RgbImage> images, int[] imageStarts) {
}
