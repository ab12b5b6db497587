package ai.vl4j.train.demo;

import ai.vl4j.safetensors.SafetensorsWriter;
import ai.vl4j.safetensors.SafetensorsWriter.Entry;
import ai.vl4j.safetensors.Weights;
import ai.vl4j.tensor.Interpolate;
import ai.vl4j.tensor.Tensor;
import ai.vl4j.vision.SigLipConfig;
import ai.vl4j.vlm.DeepSeekVl;
import ai.vl4j.vlm.ModelConfig;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * A task a tiny model can learn in a minute, to show that training teaches something visible: pictures of one solid
 * shape (rectangle, ellipse or triangle; random position, size and grey background) in one of a few colours, and the
 * question "What colour is the shape?" answered "Red." and so on. Also the model to learn it: a 1.3B-style
 * checkpoint (the tiny random-weight fixture, say) made to look at small images, so a step costs milliseconds.
 * <pre>
 *   OUT/model/                 the model with image_size S (S/16 squared image tokens), pos_embed resized to the grid
 *   OUT/train.jsonl            one SFT sample a line: {"images": ["train/0007-red.png"], "conversations": [...]}
 *   OUT/train/0007-red.png     the pictures, the answer in the name
 *   OUT/test.jsonl, OUT/test/  the held-out ones (another seed: new positions, sizes, backgrounds)
 * </pre>
 * Everything is drawn from a seed, so the same seed gives the same files.
 */
public final class ColouredShapes {
    /** The question every sample asks. */
    public static final String QUESTION = "What colour is the shape?";

    /** The colours a shape takes: the answer's word and the pixel value. */
    public enum Colour {
        RED(220, 30, 30), GREEN(30, 170, 50), BLUE(40, 70, 220), YELLOW(235, 210, 40);

        final Color rgb;

        Colour(int r, int g, int b) {
            this.rgb = new Color(r, g, b);
        }

        /** The expected answer: "Red." */
        public String answer() {
            return word() + ".";
        }

        /** "Red" */
        public String word() {
            String n = name().toLowerCase(Locale.ROOT);
            return Character.toUpperCase(n.charAt(0)) + n.substring(1);
        }
    }

    /** One picture: where it was written (relative to the dataset folder) and its colour. */
    public record Example(String image, Colour colour) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private ColouredShapes() {
    }

    /**
     * Writes count pictures into dir/split/ and their SFT samples into dir/split.jsonl; returns them in file order.
     * Colours take turns (count / 4 of each), everything else is random from seed.
     *
     * @param side the pictures' side in pixels
     */
    public static List<Example> writeDataset(Path dir, String split, int count, int side, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Colour[] colours = Colour.values();
        List<Example> examples = new ArrayList<>();
        StringBuilder jsonl = new StringBuilder();
        try {
            Files.createDirectories(dir.resolve(split));
            for (int i = 0; i < count; i++) {
                Colour colour = colours[i % colours.length];
                String name = String.format(Locale.ROOT, "%s/%04d-%s.png", split, i, colour.name().toLowerCase(Locale.ROOT));
                ImageIO.write(draw(colour, side, random), "png", dir.resolve(name).toFile());
                examples.add(new Example(name, colour));
                ObjectNode line = JSON.createObjectNode();
                line.putArray("images").add(name);
                var turns = line.putArray("conversations");
                turns.addObject().put("role", "User").put("content", "<image_placeholder>" + QUESTION);
                turns.addObject().put("role", "Assistant").put("content", colour.answer());
                jsonl.append(JSON.writeValueAsString(line)).append('\n');
            }
            Files.writeString(dir.resolve(split + ".jsonl"), jsonl);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot write the " + split + " set: " + e.getMessage(), e);
        }
        return examples;
    }

    /** One solid shape of colour, a quarter to three quarters of the side across, on a random grey. */
    static BufferedImage draw(Colour colour, int side, SplittableRandom random) {
        BufferedImage img = new BufferedImage(side, side, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        int grey = 60 + random.nextInt(136);
        g.setColor(new Color(grey, grey, grey));
        g.fillRect(0, 0, side, side);
        int w = side / 4 + random.nextInt(side / 2 + 1);
        int h = side / 4 + random.nextInt(side / 2 + 1);
        int x = random.nextInt(side - w + 1);
        int y = random.nextInt(side - h + 1);
        g.setColor(colour.rgb);
        switch (random.nextInt(3)) {
            case 0 -> g.fillRect(x, y, w, h);
            case 1 -> g.fillOval(x, y, w, h);
            default -> g.fillPolygon(new int[] {x, x + w, x + w / 2}, new int[] {y + h, y + h, y}, 3);
        }
        g.dispose();
        return img;
    }

    /**
     * Writes a copy of the 1.3B-style model folder source (SigLIP tower only) that takes imageSize-pixel images:
     * config.json's vision image_size, the preprocessor's image_size and the processor's num_image_tokens set to
     * match, the position embedding [1, g·g, D] resized bilinearly to the new grid [1, g'·g', D]; every other tensor
     * and file as it was.
     */
    public static Path writeModel(Path source, Path target, int imageSize) {
        ModelConfig cfg = ModelConfig.load(source);
        if (cfg.hybrid()) {
            throw new IllegalArgumentException(source + ": a 1.3B-style model (SigLIP tower only) is needed, this one is hybrid");
        }
        SigLipConfig siglip = cfg.siglip();
        if (imageSize % siglip.patchSize() != 0) {
            throw new IllegalArgumentException("image size " + imageSize + " is not a multiple of the patch " + siglip.patchSize());
        }
        int grid = siglip.gridSize();
        int newGrid = imageSize / siglip.patchSize();
        String posName = DeepSeekVl.CLIP_TOWER_PREFIX + "pos_embed";
        try {
            Files.createDirectories(target);
            try (Stream<Path> files = Files.list(source)) {
                for (Path f : files.toList()) {
                    String name = f.getFileName().toString();
                    if (Files.isRegularFile(f) && !name.endsWith(".safetensors") && !name.equals(Weights.INDEX_FILE)) {
                        Files.copy(f, target.resolve(name), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
            edit(target.resolve("config.json"), c -> ((ObjectNode) c.get("vision_config").get("params")).put("image_size", imageSize));
            edit(target.resolve("preprocessor_config.json"), c -> c.put("image_size", imageSize));
            edit(target.resolve("processor_config.json"), c -> c.put("num_image_tokens", newGrid * newGrid));
            try (Weights weights = Weights.open(source)) {
                List<Entry> entries = new ArrayList<>();
                for (Tensor t : weights.tensors().values()) {
                    if (t.name().equals(posName)) {
                        float[] pos = t.toFloatArray();                                               // [1, g·g, D]
                        float[] resized = Interpolate.bilinearHwc(pos, grid, grid, siglip.width(), newGrid, newGrid);   // [1, g'·g', D]
                        entries.add(SafetensorsWriter.of(Tensor.ofFloats(posName, resized, 1, (long) newGrid * newGrid, siglip.width())));
                    } else {
                        entries.add(SafetensorsWriter.of(t));
                    }
                }
                SafetensorsWriter.writeModel(target, entries, Map.of("format", "pt"), (done, total) -> { });
            }
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": cannot write the model: " + e.getMessage(), e);
        }
        ModelConfig.load(target);   // the three files agree
        return target;
    }

    private interface Edit {
        void apply(ObjectNode config);
    }

    private static void edit(Path file, Edit edit) throws IOException {
        ObjectNode config = (ObjectNode) JSON.readTree(file.toFile());
        edit.apply(config);
        JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), config);
    }

    /**
     * {@code ColouredShapes SOURCE_MODEL OUT [TRAIN] [TEST] [SEED]}: writes OUT/model (64-pixel images: 16 image tokens),
     * OUT/train.jsonl with TRAIN pictures (default 256) and OUT/test.jsonl with TEST held-out ones (default 48).
     */
    public static void main(String[] args) {
        if (args.length < 2) {
            System.err.println("usage: ColouredShapes SOURCE_MODEL OUT [TRAIN] [TEST] [SEED]");
            System.exit(2);
        }
        Path out = Path.of(args[1]);
        int train = args.length > 2 ? Integer.parseInt(args[2]) : 256;
        int test = args.length > 3 ? Integer.parseInt(args[3]) : 48;
        long seed = args.length > 4 ? Long.parseLong(args[4]) : 1;
        writeModel(Path.of(args[0]), out.resolve("model"), 64);
        writeDataset(out, "train", train, 64, seed);
        writeDataset(out, "test", test, 64, seed + 1_000_003);
        System.out.println(out);
    }
}
