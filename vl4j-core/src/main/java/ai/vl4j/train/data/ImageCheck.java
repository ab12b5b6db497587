package ai.vl4j.train.data;

import ai.vl4j.InvalidInputException;
import ai.vl4j.image.ImageLoader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/** How much of each image {@link TrainingData#open} checks while it validates a file. */
public enum ImageCheck {
    /** Nothing: a missing or broken image shows only when its pixels are loaded. */
    NONE,
    /**
     * The file exists and its header names a supported format and a size (PNG IHDR, JPEG SOF, ...): a few
     * hundred bytes read per image, no pixels decoded. A file whose header is fine but whose data is broken
     * still fails later, when the trainer loads its pixels (the error names the JSONL file and line).
     */
    HEADER,
    /** Every image fully decoded once (what training will read), then dropped: slow, but nothing fails later. */
    DECODE;

    static {
        ImageIO.setUseCache(false);
        ImageIO.scanForPlugins(); // the WebP readers, as ImageLoader does
    }

    /** Checks one image; an {@link InvalidInputException} naming the image file if it fails. */
    void check(Path image) {
        switch (this) {
            case NONE -> { }
            case HEADER -> header(image);
            case DECODE -> ImageLoader.load(image);
        }
    }

    private static void header(Path image) {
        if (!Files.isRegularFile(image)) {
            throw new InvalidInputException(image + ": image file not found");
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(image.toFile())) {
            if (in == null) {
                throw new InvalidInputException(image + ": cannot read image");
            }
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            IOException failure = null;
            while (readers.hasNext()) {
                ImageReader reader = readers.next();
                try {
                    in.seek(0);
                    reader.setInput(in, true, true);
                    int w = reader.getWidth(0);
                    int h = reader.getHeight(0);
                    if (w < 1 || h < 1) {
                        throw new InvalidInputException(image + ": image header says " + w + "x" + h + " pixels");
                    }
                    return;
                } catch (IOException e) {
                    failure = e;
                } catch (LinkageError e) {
                    // native decoder unavailable here: try the next reader
                } finally {
                    reader.dispose();
                }
            }
            throw new InvalidInputException(image + (failure == null
                    ? ": not an image in a supported format (PNG, JPEG, BMP, GIF, WebP)"
                    : ": cannot read the image header (" + failure.getMessage() + ")"));
        } catch (IOException e) {
            throw new InvalidInputException(image + ": cannot read image (" + e.getMessage() + ")", e);
        }
    }
}
