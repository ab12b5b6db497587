package ai.vl4j.train.io;

import ai.vl4j.InvalidInputException;
import ai.vl4j.Vl4jException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A folder written beside its final name and moved there only when complete, so a killed or failed run never
 * leaves a half-written folder under that name:
 * <pre>
 *   open(OUT)     .OUT.partial-1f3a…/   made in OUT's parent; what a killed run left there is removed first
 *   dir()         the caller writes the new folder's files here
 *   commit()      if OUT exists: its entries the new folder does not replace (training checkpoints, a metrics
 *                 file, notes) are carried over as hard links (copies where links fail), entries the caller
 *                 calls superseded (old weight shards) are dropped; then OUT → .OUT.old-…, the new folder → OUT,
 *                 the old one deleted
 *   close()       without commit: the partial folder is deleted
 * </pre>
 * The two renames of a commit are not one atomic step: a run killed between them leaves no OUT but the old
 * folder under {@code .OUT.old-…}, which the next {@code open(OUT)} moves back before anything else. An existing
 * OUT is only replaced when it holds files and {@code checkpoint-N} folders alone (a folder with any other
 * subfolder, such as a home directory given by mistake, is refused). One writer per folder at a time: opening a
 * folder removes the partial versions of it that it finds.
 */
public final class StagedFolder implements AutoCloseable {
    private static final Pattern CHECKPOINT = Pattern.compile("checkpoint-\\d+");

    private final Path target;
    private final Path dir;
    private boolean committed;

    private StagedFolder(Path target, Path dir) {
        this.target = target;
        this.dir = dir;
    }

    /** Starts a new version of target (created or replaced at {@link #commit}). */
    public static StagedFolder open(Path target) {
        Path abs = target.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        if (parent == null) {
            throw new InvalidInputException(target + ": cannot write a folder at the file system root");
        }
        String name = abs.getFileName().toString();
        try {
            Files.createDirectories(parent);
            recoverInterruptedCommit(abs, name);
            removeLeftovers(parent, name);
            if (Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
                checkReplaceable(abs);
            }
            String nonce = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
            Path dir = Files.createDirectory(parent.resolve("." + name + ".partial-" + nonce));
            return new StagedFolder(abs, dir);
        } catch (IOException e) {
            throw new Vl4jException(target + ": cannot prepare the folder (" + e.getMessage() + ")", e);
        }
    }

    /** Where the new folder's files go until {@link #commit}. */
    public Path dir() {
        return dir;
    }

    /** The final folder. */
    public Path target() {
        return target;
    }

    /**
     * Moves the new folder into place. Entries of an existing target that the new folder lacks are kept unless
     * superseded says they belong to the old version (e.g. its weight shards).
     */
    public void commit(Predicate<String> superseded) {
        if (committed) {
            throw new IllegalStateException(target + " is already committed");
        }
        String name = target.getFileName().toString();
        Path old = null;
        try {
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                try (DirectoryStream<Path> entries = Files.newDirectoryStream(target)) {
                    for (Path e : entries) {
                        String n = e.getFileName().toString();
                        if (!Files.exists(dir.resolve(n), LinkOption.NOFOLLOW_LINKS) && !superseded.test(n) && !isLeftover(n)) {
                            linkTree(e, dir.resolve(n));
                        }
                    }
                }
                old = target.resolveSibling("." + name + ".old-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()));
                Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
            }
            Files.move(dir, target, StandardCopyOption.ATOMIC_MOVE);
            committed = true;
        } catch (IOException e) {
            if (old != null && !Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                try {
                    Files.move(old, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException ignored) {
                    // the next open(target) moves it back
                }
            }
            throw new Vl4jException(target + ": cannot move the new folder into place (" + e.getMessage() + ")", e);
        }
        if (old != null) {
            deleteTree(old);
        }
    }

    @Override
    public void close() {
        if (!committed) {
            deleteTree(dir);
        }
    }

    /** A commit killed between its two renames left the previous folder as .NAME.old-…: it becomes NAME again. */
    private static void recoverInterruptedCommit(Path target, String name) throws IOException {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        List<Path> olds = siblings(target.getParent(), "." + name + ".old-");
        if (olds.size() == 1) {
            Files.move(olds.getFirst(), target, StandardCopyOption.ATOMIC_MOVE);
        }
    }

    private static void removeLeftovers(Path parent, String name) throws IOException {
        for (Path p : siblings(parent, "." + name + ".partial-")) {
            deleteTree(p);
        }
        for (Path p : siblings(parent, "." + name + ".old-")) {
            deleteTree(p);
        }
    }

    private static List<Path> siblings(Path parent, String prefix) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(parent, p -> p.getFileName().toString().startsWith(prefix))) {
            entries.forEach(out::add);
        }
        return out;
    }

    /** Names of what an interrupted write of an entry of this folder left behind (never carried over). */
    private static boolean isLeftover(String name) {
        return name.startsWith(".") && (name.contains(".partial-") || name.contains(".old-"));
    }

    private static void checkReplaceable(Path target) throws IOException {
        if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new InvalidInputException(target + ": exists and is not a folder; not replacing it");
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(target)) {
            for (Path e : entries) {
                String n = e.getFileName().toString();
                if (Files.isDirectory(e, LinkOption.NOFOLLOW_LINKS) && !CHECKPOINT.matcher(n).matches() && !isLeftover(n)) {
                    throw new InvalidInputException(target + ": holds the folder " + n + ", so it is not a model or checkpoint"
                            + " folder; not replacing it (choose a new or empty output folder)");
                }
            }
        }
    }

    /** Recreates source at dest with hard links to its files (no data copied), copying where a link cannot be made. */
    private static void linkTree(Path source, Path dest) throws IOException {
        if (Files.isSymbolicLink(source)) {
            Files.createSymbolicLink(dest, Files.readSymbolicLink(source));
        } else if (Files.isDirectory(source)) {
            Files.createDirectory(dest);
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(source)) {
                for (Path e : entries) {
                    linkTree(e, dest.resolve(e.getFileName().toString()));
                }
            }
        } else {
            try {
                Files.createLink(dest, source);
            } catch (FileAlreadyExistsException e) {
                throw e;
            } catch (UnsupportedOperationException | IOException e) {
                Files.copy(source, dest, StandardCopyOption.COPY_ATTRIBUTES);   // a file system without hard links
            }
        }
    }

    static void deleteTree(Path root) {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new Vl4jException(root + ": cannot delete (" + e.getMessage() + ")", e);
        }
    }
}
