package ai.vl4j.image;

/**
 * An 8-bit RGB image, row-major and interleaved: pixel (x, y) channel c at rgb[(y·width + x)·3 + c].
 * The form Pillow calls mode "RGB": what {@code Image.open(f).convert("RGB")} hands the processor.
 */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        if (width <= 0 || height <= 0 || rgb.length != (long) width * height * 3) {
            throw new IllegalArgumentException("RGB image " + width + "x" + height + " with " + rgb.length + " bytes");
        }
    }

    /** Channel c of pixel (x, y), 0..255. */
    public int get(int x, int y, int c) {
        return rgb[(y * width + x) * 3 + c] & 0xff;
    }
}
