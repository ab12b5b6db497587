package ai.vl4j.image;

import ai.vl4j.InvalidInputException;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
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

    /**
     * Decodes encoded image bytes; name is used in error messages. A file cut short or corrupt is refused in every
     * format, as Pillow refuses it by default, with one message naming the file and its format.
     */
    public static RgbImage decode(byte[] bytes, String name) {
        String format = formatName(bytes);
        if (riffSizeExceedsFile(bytes)) {
            throw truncated(name, format, null);
        }
        EncodedBytes in = new EncodedBytes(bytes);
        List<ImageReader> readers = readers(in);
        if (readers.isEmpty()) {
            throw notAnImage(name);
        }
        for (ImageReader reader : readers) {
            List<String> warnings = new ArrayList<>();
            BufferedImage image;
            try {
                in.seek(0);
                in.clearPastEnd();
                reader.setInput(in, true, true);
                reader.addIIOReadWarningListener((r, warning) -> warnings.add(warning));
                image = reader.read(0);
            } catch (LinkageError e) {
                continue;                                      // native decoder unavailable here: try the next reader
            } catch (IOException | RuntimeException e) {
                throw in.pastEnd() ? truncated(name, format, e) : new InvalidInputException(name + ": cannot decode the " + format
                        + " image: the file is corrupt or uses a feature the decoder does not support (" + detail(e) + ")", e);
            } finally {
                reader.dispose();
            }
            if (in.pastEnd() && !warnings.isEmpty()) {
                throw truncated(name, format, null);           // decoded with the missing part padded (JPEG)
            }
            return toRgb(image);
        }
        throw new InvalidInputException(name + ": no " + format + " decoder can run on this platform");
    }

    /** An image's format and size, from its header only (no pixel decoded). */
    public record Header(String format, int width, int height) {
    }

    /** Reads the header: format, width and height, so limits can be checked before decoding. */
    public static Header header(byte[] bytes, String name) {
        String format = formatName(bytes);
        EncodedBytes in = new EncodedBytes(bytes);
        List<ImageReader> readers = readers(in);
        if (readers.isEmpty()) {
            throw notAnImage(name);
        }
        for (ImageReader reader : readers) {
            try {
                in.seek(0);
                in.clearPastEnd();
                reader.setInput(in, true, true);
                return new Header(format, reader.getWidth(0), reader.getHeight(0));
            } catch (LinkageError e) {
                // a native reader that cannot load here: the next one reads the header
            } catch (IOException | RuntimeException e) {
                throw in.pastEnd() ? truncated(name, format, e) : new InvalidInputException(name + ": cannot read the header of the "
                        + format + " image (" + detail(e) + ")", e);
            } finally {
                reader.dispose();
            }
        }
        throw new InvalidInputException(name + ": no " + format + " decoder can run on this platform");
    }

    /**
     * The readers that claim the bytes. For WebP the libwebp binding goes first: Pillow decodes with libwebp, and a
     * pure-Java VP8 decoder differs on lossy files (chroma upsampling). Where the native library cannot load (an
     * unsupported platform) the next reader takes over.
     */
    private static List<ImageReader> readers(EncodedBytes in) {
        List<ImageReader> readers = new ArrayList<>();
        ImageIO.getImageReaders(in).forEachRemaining(readers::add);
        readers.sort(Comparator.comparing(r -> r.getClass().getName().startsWith(LIBWEBP_READER_PACKAGE) ? 0 : 1));
        return readers;
    }

    /** The format as its magic bytes say (for messages). */
    static String formatName(byte[] b) {
        if (starts(b, 0, 0x89, 'P', 'N', 'G')) {
            return "PNG";
        }
        if (starts(b, 0, 0xff, 0xd8, 0xff)) {
            return "JPEG";
        }
        if (starts(b, 0, 'G', 'I', 'F', '8')) {
            return "GIF";
        }
        if (starts(b, 0, 'B', 'M')) {
            return "BMP";
        }
        if (starts(b, 0, 'R', 'I', 'F', 'F') && starts(b, 8, 'W', 'E', 'B', 'P')) {
            return "WebP";
        }
        return "image";
    }

    /**
     * A WebP file is a RIFF container whose header gives its size: fewer bytes than that is a truncated file, which
     * libwebp refuses (the pure-Java fallback decoder would decode what is there).
     */
    private static boolean riffSizeExceedsFile(byte[] b) {
        if (!formatName(b).equals("WebP") || b.length < 12) {
            return false;
        }
        long riffSize = (b[4] & 0xffL) | (b[5] & 0xffL) << 8 | (b[6] & 0xffL) << 16 | (b[7] & 0xffL) << 24;
        return riffSize + 8 > b.length;
    }

    private static boolean starts(byte[] b, int at, int... magic) {
        if (b.length < at + magic.length) {
            return false;
        }
        for (int i = 0; i < magic.length; i++) {
            if ((b[at + i] & 0xff) != magic[i]) {
                return false;
            }
        }
        return true;
    }

    private static InvalidInputException truncated(String name, String format, Throwable cause) {
        return new InvalidInputException(name + ": the " + format + " file is truncated (it ends before the image data does)", cause);
    }

    private static InvalidInputException notAnImage(String name) {
        return new InvalidInputException(name + ": not an image in a supported format (PNG, JPEG, BMP, GIF, WebP)");
    }

    /** The innermost message of a decoder's failure (its class name when it has none). */
    private static String detail(Throwable e) {
        String detail = e.getClass().getSimpleName();
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                detail = t.getMessage().strip();
            }
        }
        return detail;
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
