package ai.vl4j.cli;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Main class of the all-in-one jar, so that {@code java -jar vl4j-all.jar ARGS} needs no flags. The Vector API is an
 * incubator module, which only a command-line flag adds to the JVM; when this JVM was started without it, the jar is
 * started again in a JVM with {@code --add-modules jdk.incubator.vector} (and the JVM options this one was given),
 * with stdin, stdout and stderr passed through, and its exit code is this one's. Starting the jar with the flag
 * skips the second JVM.
 */
public final class JarLauncher {
    private static final String VECTOR = "jdk.incubator.vector";

    private JarLauncher() {
    }

    public static void main(String[] args) throws Exception {
        if (ModuleLayer.boot().findModule(VECTOR).isPresent()) {
            Main.main(args);
            return;
        }
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Path jar = Path.of(JarLauncher.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> command = new ArrayList<>(List.of(java, "--add-modules", VECTOR, "--enable-native-access=ALL-UNNAMED"));
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.addAll(List.of("-cp", jar.toString(), "ai.vl4j.cli.Main"));
        command.addAll(List.of(args));
        Process vl4j = new ProcessBuilder(command).inheritIO().start();
        System.exit(vl4j.waitFor());
    }
}
