package ai.vl4j.image;

import ai.vl4j.InvalidInputException;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Decodes PNG, JPEG, BMP, GIF (first frame) and WebP files or {@code data:image/...;base64,} URIs into
 * {@link RgbImage}, with Pillow's {@code convert("RGB")} semantics: alpha is dropped without compositing,
 * grey is replicated to three channels, palettes are looked up, no EXIF rotation and no ICC colour
 * conversion (the raw stored samples are used, as Pillow does).
 */
public final class ImageLoader {
    private static final String LIBWEBP_READER_PACKAGE = "com.luciad.imageio.webp.";

    static {
        ImageIO.setUseCache(false);
        ImageIO.scanForPlugins(); // picks up the WebP reader on the class path
    }

    private ImageLoader() {
    }

    /** A file path or a data URI. */
    public static RgbImage load(String source) {
        if (source.startsWith("data:")) {
            return decode(dataUriBytes(source), "data URI");
        }
        return load(Path.of(source));
    }

    public static RgbImage load(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new InvalidInputException(file + ": image file not found");
        } catch (IOException e) {
            throw new InvalidInputException(file + ": cannot read image (" + e.getMessage() + ")", e);
        }
        return decode(bytes, file.toString());
    }

    /** Decodes encoded image bytes; name is used in error messages. */
    public static RgbImage decode(byte[] bytes, String name) {
        BufferedImage image;
        try {
            image = read(bytes);
        } catch (IOException | RuntimeException e) {
            throw new InvalidInputException(name + ": cannot decode image (" + e.getMessage() + ")", e);
        }
        if (image == null) {
            throw new InvalidInputException(name + ": not an image in a supported format (PNG, JPEG, BMP, GIF, WebP)");
        }
        return toRgb(image);
    }

    /**
     * The first frame, read by the first reader that can. For WebP the libwebp binding goes first: Pillow
     * decodes with libwebp, and a pure-Java VP8 decoder differs on lossy files (chroma upsampling). Where the
     * native library cannot load (an unsupported platform) the next reader takes over.
     */
    private static BufferedImage read(byte[] bytes) throws IOException {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            List<ImageReader> readers = new ArrayList<>();
            ImageIO.getImageReaders(in).forEachRemaining(readers::add);
            readers.sort(Comparator.comparing(r -> r.getClass().getName().startsWith(LIBWEBP_READER_PACKAGE) ? 0 : 1));
            for (ImageReader reader : readers) {
                try {
                    in.seek(0);
                    reader.setInput(in, true, true);
                    return reader.read(0);
                } catch (LinkageError e) {
                    // native decoder unavailable here: try the next reader
                } finally {
                    reader.dispose();
                }
            }
            return null;
        }
    }

    static byte[] dataUriBytes(String uri) {
        int comma = uri.indexOf(',');
        if (comma < 0 || !uri.substring(0, comma).endsWith(";base64")) {
            throw new InvalidInputException("data URI: expected data:image/...;base64,<data>");
        }
        try {
            return Base64.getMimeDecoder().decode(uri.substring(comma + 1));
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("data URI: invalid base64 (" + e.getMessage() + ")", e);
        }
    }

    /** The stored samples as 8-bit RGB. */
    static RgbImage toRgb(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        byte[] rgb = new byte[w * h * 3];
        Raster raster = image.getRaster();
        if (image.getColorModel() instanceof ComponentColorModel cm) {
            // Raw samples, like Pillow: band 0..2 are R, G, B (or band 0 is grey); extra bands (alpha) dropped.
            boolean grey = cm.getColorSpace().getType() == ColorSpace.TYPE_GRAY;
            int bands = raster.getNumBands();
            int shift = switch (raster.getTransferType()) {
                case DataBuffer.TYPE_BYTE -> 0;
                case DataBuffer.TYPE_USHORT -> 8; // 16-bit samples: keep the high byte
                default -> -1;
            };
            if (shift >= 0 && (grey || bands >= 3)) {
                int[] row = new int[w * bands];
                for (int y = 0; y < h; y++) {
                    raster.getPixels(0, y, w, 1, row);
                    for (int x = 0; x < w; x++) {
                        int o = (y * w + x) * 3;
                        for (int c = 0; c < 3; c++) {
                            rgb[o + c] = (byte) (row[x * bands + (grey ? 0 : c)] >> shift);
                        }
                    }
                }
                return new RgbImage(w, h, rgb);
            }
        }
        // Palette and packed-int images: the colour model gives sRGB components directly.
        int[] argb = new int[w];
        for (int y = 0; y < h; y++) {
            image.getRGB(0, y, w, 1, argb, 0, w);
            for (int x = 0; x < w; x++) {
                int o = (y * w + x) * 3;
                rgb[o] = (byte) (argb[x] >> 16);
                rgb[o + 1] = (byte) (argb[x] >> 8);
                rgb[o + 2] = (byte) argb[x];
            }
        }
        return new RgbImage(w, h, rgb);
    }
}
