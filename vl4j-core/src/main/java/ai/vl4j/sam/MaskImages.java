package ai.vl4j.sam;

import ai.vl4j.image.RgbImage;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * Pictures of masks: one mask as an 8-bit grey PNG (255 inside, 0 outside, as the fixture's and the official
 * notebooks' masks), and an overlay for people: the image with each mask tinted in its own colour and outlined,
 * the prompt's points (green foreground, red background) and box drawn on top.
 */
public final class MaskImages {
    private static final int[] FOREGROUND = {40, 220, 60};
    private static final int[] BACKGROUND = {235, 40, 40};
    private static final int[] BOX = {60, 140, 255};

    private MaskImages() {
    }

    /** A mask [h·w] (row-major) as a greyscale PNG. */
    public static byte[] maskPng(boolean[] mask, int height, int width) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY);
        byte[] pixels = new byte[width * height];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) (mask[i] ? 255 : 0);
        }
        img.getRaster().setDataElements(0, 0, width, height, pixels);
        return png(img);
    }

    /**
     * The image with the masks tinted (half transparent, each its own colour, larger masks first so smaller ones
     * stay visible) and outlined, then the points (label 1 green, 0 red) and the box. points, labels and box may be
     * null.
     */
    public static byte[] overlayPng(RgbImage image, List<boolean[]> masks, double[][] points, int[] labels, double[] box) {
        return png(overlay(image, masks, 0, points, labels, box));
    }

    /** The overlay; mask m gets colour firstColour + m. */
    private static BufferedImage overlay(RgbImage image, List<boolean[]> masks, int firstColour, double[][] points, int[] labels,
                                         double[] box) {
        int w = image.width();
        int h = image.height();
        float[] rgb = new float[w * h * 3];
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = image.rgb()[i] & 0xff;
        }
        Integer[] order = new Integer[masks.size()];
        int[] areas = new int[masks.size()];
        for (int m = 0; m < order.length; m++) {
            order[m] = m;
            for (boolean v : masks.get(m)) {
                areas[m] += v ? 1 : 0;
            }
        }
        java.util.Arrays.sort(order, (a, b) -> Integer.compare(areas[b], areas[a]));
        for (int m : order) {
            boolean[] mask = masks.get(m);
            int[] colour = colour(firstColour + m);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int p = y * w + x;
                    if (!mask[p]) {
                        continue;
                    }
                    boolean edge = x == 0 || y == 0 || x == w - 1 || y == h - 1 || !mask[p - 1] || !mask[p + 1] || !mask[p - w] || !mask[p + w];
                    float alpha = edge ? 1f : 0.45f;
                    for (int c = 0; c < 3; c++) {
                        rgb[p * 3 + c] = (1 - alpha) * rgb[p * 3 + c] + alpha * colour[c];
                    }
                }
            }
        }
        int size = Math.max(2, Math.round(Math.max(w, h) / 100f));
        if (box != null) {
            rectangle(rgb, w, h, box, Math.max(1, size / 2), BOX);
        }
        if (points != null) {
            for (int i = 0; i < points.length; i++) {
                disc(rgb, w, h, points[i][0], points[i][1], size + 1, new int[] {255, 255, 255});
                disc(rgb, w, h, points[i][0], points[i][1], size, labels != null && labels[i] == 0 ? BACKGROUND : FOREGROUND);
            }
        }
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = (y * w + x) * 3;
                img.setRGB(x, y, (clamp(rgb[p]) << 16) | (clamp(rgb[p + 1]) << 8) | clamp(rgb[p + 2]));
            }
        }
        return img;
    }

    /**
     * One overlay panel per mask, side by side with a white gap ({@link #overlayPng} of each mask alone, with the
     * prompt): the candidates of a multimask prediction next to each other.
     */
    public static byte[] panelsPng(RgbImage image, List<boolean[]> masks, double[][] points, int[] labels, double[] box) {
        int w = image.width();
        int h = image.height();
        int gap = Math.max(4, w / 50);
        int n = Math.max(1, masks.size());
        BufferedImage strip = new BufferedImage(n * w + (n - 1) * gap, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < strip.getWidth(); x++) {
                strip.setRGB(x, y, 0xffffff);
            }
        }
        for (int k = 0; k < masks.size(); k++) {
            BufferedImage panel = overlay(image, List.of(masks.get(k)), k, points, labels, box);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    strip.setRGB(k * (w + gap) + x, y, panel.getRGB(x, y));
                }
            }
        }
        return png(strip);
    }

    /** Well-separated colours: hues a golden angle apart, saturated and bright. */
    static int[] colour(int index) {
        float hue = (index * 0.618034f + 0.1f) % 1f;
        int rgb = java.awt.Color.HSBtoRGB(hue, 0.85f, 1f);
        return new int[] {(rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff};
    }

    private static void disc(float[] rgb, int w, int h, double cx, double cy, int radius, int[] colour) {
        for (int y = (int) Math.floor(cy - radius); y <= (int) Math.ceil(cy + radius); y++) {
            for (int x = (int) Math.floor(cx - radius); x <= (int) Math.ceil(cx + radius); x++) {
                double dx = x + 0.5 - cx;
                double dy = y + 0.5 - cy;
                if (x >= 0 && y >= 0 && x < w && y < h && dx * dx + dy * dy <= radius * radius) {
                    paint(rgb, (y * w + x) * 3, colour);
                }
            }
        }
    }

    private static void rectangle(float[] rgb, int w, int h, double[] box, int thickness, int[] colour) {
        int x0 = (int) Math.floor(box[0]);
        int y0 = (int) Math.floor(box[1]);
        int x1 = (int) Math.ceil(box[2]);
        int y1 = (int) Math.ceil(box[3]);
        for (int y = y0 - thickness; y <= y1 + thickness; y++) {
            for (int x = x0 - thickness; x <= x1 + thickness; x++) {
                boolean border = x < x0 + thickness || x > x1 - thickness || y < y0 + thickness || y > y1 - thickness;
                if (border && x >= 0 && y >= 0 && x < w && y < h) {
                    paint(rgb, (y * w + x) * 3, colour);
                }
            }
        }
    }

    private static void paint(float[] rgb, int p, int[] colour) {
        for (int c = 0; c < 3; c++) {
            rgb[p + c] = colour[c];
        }
    }

    private static int clamp(float v) {
        return Math.max(0, Math.min(255, Math.round(v)));
    }

    private static byte[] png(BufferedImage img) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ImageIO.write(img, "png", out);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
