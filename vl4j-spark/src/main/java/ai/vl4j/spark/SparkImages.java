package ai.vl4j.spark;

import ai.vl4j.InvalidInputException;
import ai.vl4j.image.ImageLoader;
import ai.vl4j.image.RgbImage;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;

/**
 * A row's image as pixels: encoded bytes (the {@code binaryFile} source's {@code content}) are decoded by vl4j's
 * {@link ImageLoader}, exactly as {@code vl4j run} reads a file; Spark's {@code image} source struct is already decoded
 * (by Spark, with ImageIO) into rows of B,G,R[,A] or gray bytes, which become RGB (alpha dropped, as Pillow's
 * {@code convert("RGB")} does).
 */
final class SparkImages {
    /** The fields of Spark's image schema (ImageSchema.columnSchema). */
    private static final List<String> IMAGE_FIELDS = List.of("origin", "height", "width", "nChannels", "mode", "data");

    private SparkImages() {
    }

    static boolean isImageStruct(DataType type) {
        return type instanceof StructType s && List.of(s.fieldNames()).containsAll(IMAGE_FIELDS);
    }

    /** name: where the image came from, for errors. */
    static RgbImage decode(Object value, String name) {
        if (value == null) {
            throw new InvalidInputException(name + ": the row has no image (null)");
        }
        if (value instanceof byte[] bytes) {
            return ImageLoader.decode(bytes, name);
        }
        Row image = (Row) value;
        int width = image.getInt(image.fieldIndex("width"));
        int height = image.getInt(image.fieldIndex("height"));
        int channels = image.getInt(image.fieldIndex("nChannels"));
        byte[] data = (byte[]) image.get(image.fieldIndex("data"));
        if (width <= 0 || height <= 0 || data == null || data.length != (long) width * height * channels
                || (channels != 1 && channels != 3 && channels != 4)) {
            throw new InvalidInputException(name + ": not a decoded image (Spark's image source could not read the file)");
        }
        byte[] rgb = new byte[width * height * 3];
        for (int p = 0; p < width * height; p++) {
            int s = p * channels;
            if (channels == 1) {
                rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = data[s];
            } else {                                   // B, G, R (, A)
                rgb[3 * p] = data[s + 2];
                rgb[3 * p + 1] = data[s + 1];
                rgb[3 * p + 2] = data[s];
            }
        }
        return new RgbImage(width, height, rgb);
    }
}
