package ai.vl4j.cli;

import ai.vl4j.Fixtures;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The vl4j command as a process of its own, started the way the {@code vl4j} launcher starts it (its
 * {@code vl4j_exec_java} from {@code scripts/jdk.sh}: the JVM options, and stderr without the JVM's incubator notice),
 * with this test's class path instead of the packaged jar, which does not exist yet when the tests run.
 */
final class Vl4jProcess {
    static final Path ROOT = Fixtures.TESTDATA.toAbsolutePath().normalize().getParent();

    private Vl4jProcess() {
    }

    /** A builder for {@code vl4j ARGS...}; env entries mapped to null are removed. */
    static ProcessBuilder builder(List<String> args, Map<String, String> env) {
        List<String> command = new ArrayList<>(List.of("bash", "-c",
                ". \"$0\"; VL4J_JAVA_HOME=\"$VL4J_TEST_JAVA_HOME\"; "
                        + "vl4j_exec_java -Xmx1g -cp \"$VL4J_TEST_CLASS_PATH\" ai.vl4j.cli.Main \"$@\"",
                ROOT.resolve("scripts/jdk.sh").toString()));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).directory(ROOT.toFile());
        Map<String, String> environment = pb.environment();
        environment.put("VL4J_TEST_JAVA_HOME", System.getProperty("java.home"));
        environment.put("VL4J_TEST_CLASS_PATH", System.getProperty("java.class.path"));
        environment.put("HF_HUB_OFFLINE", "1");
        environment.remove("VL4J_API_KEY");
        env.forEach((k, v) -> {
            if (v == null) {
                environment.remove(k);
            } else {
                environment.put(k, v);
            }
        });
        return pb;
    }

    record Result(int code, String out, String err) {
    }

    /** Runs vl4j ARGS... to its end (at most two minutes) with no input. */
    static Result run(String... args) {
        try {
            Process p = builder(List.of(args), Map.of()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Thread o = Thread.ofPlatform().start(() -> copy(p.getInputStream(), out));
            Thread e = Thread.ofPlatform().start(() -> copy(p.getErrorStream(), err));
            if (!p.waitFor(2, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new AssertionError("vl4j " + String.join(" ", args) + " did not end within two minutes");
            }
            o.join();
            e.join();
            return new Result(p.exitValue(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static void copy(InputStream in, ByteArrayOutputStream out) {
        try (in) {
            in.transferTo(out);
        } catch (IOException e) {
            // the process ended
        }
    }
}
