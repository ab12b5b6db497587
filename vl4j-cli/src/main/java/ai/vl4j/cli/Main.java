package ai.vl4j.cli;

import ai.vl4j.InvalidInputException;
import ai.vl4j.Vl4jException;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code vl4j} command. Exit codes: 0 ok, 2 usage error (bad flags, a request the model cannot take),
 * 1 runtime error; either way one line on stderr names the cause (the stack trace only with --verbose).
 */
@Command(name = "vl4j", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT, versionProvider = Main.Version.class,
        description = "DeepSeek-VL on the JVM.",
        subcommands = {RunCommand.class, ChatCommand.class, ServeCommand.class, PullCommand.class, ListCommand.class, RmCommand.class,
                TokenizeCommand.class, BenchCommand.class, SynthCommand.class, QuantizeCommand.class, BatchCommand.class, SegmentCommand.class, ClassifyCommand.class, EmbedCommand.class,
                TrainCommand.class, LossCommand.class, MergeCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT, description = "Progress details, timings and stack traces.")
    boolean verbose;

    @Option(names = {"-q", "--quiet"}, scope = CommandLine.ScopeType.INHERIT, description = "No progress displays: only results and errors.")
    boolean quiet;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command (run, chat, serve, batch, pull, list, rm, tokenize, bench, synth, quantize, segment, classify, embed, train, loss, merge)");
    }

    public static void main(String[] args) {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        System.exit(execute(args, System.in, out, err));
    }

    /** Runs the command line with the given output streams and no input; returns the exit code. */
    public static int execute(String[] args, PrintStream out, PrintStream err) {
        return execute(args, InputStream.nullInputStream(), out, err);
    }

    /** Runs the command line with the given streams; returns the exit code. */
    public static int execute(String[] args, InputStream in, PrintStream out, PrintStream err) {
        return execute(args, in, out, err, System.getenv());
    }

    /** Runs the command line with the given streams and environment variables; returns the exit code. */
    public static int execute(String[] args, InputStream in, PrintStream out, PrintStream err, Map<String, String> env) {
        Main main = new Main();
        CommandLine cli = new CommandLine(main);
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        cli.setParameterExceptionHandler((e, a) -> {
            String message = String.join(" ", e.getMessage().strip().split("\\s*\\R\\s*"));
            err.println("vl4j: error: " + message + " (see '" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            boolean verbose = matched(parseResult, "--verbose");
            if (verbose) {
                e.printStackTrace(err);
            }
            err.println("vl4j: error: " + oneLine(e));
            return e instanceof InvalidInputException || e instanceof IllegalArgumentException ? 2 : 1;
        });
        cli.setExecutionStrategy(parseResult -> {
            Streams.flags(matched(parseResult, "--quiet"), matched(parseResult, "--verbose"));
            return new CommandLine.RunLast().execute(parseResult);
        });
        Streams.set(in, out, err);
        Streams.flags(false, false);
        Streams.env(env);
        return cli.execute(args);
    }

    /** True when the (inherited) option was given on the command or any of its subcommands. */
    private static boolean matched(CommandLine.ParseResult parseResult, String option) {
        for (CommandLine.ParseResult r = parseResult; r != null; r = r.subcommand()) {
            if (r.hasMatchedOption(option)) {
                return true;
            }
        }
        return false;
    }

    /** The cause in one line: our own messages as they are, anything else with its type. */
    static String oneLine(Throwable e) {
        if (e instanceof Vl4jException || e instanceof IllegalArgumentException) {
            return e.getMessage() == null ? e.getClass().getSimpleName() : String.join(" ", e.getMessage().strip().split("\\s*\\R\\s*"));
        }
        if (e instanceof OutOfMemoryError) {
            return "out of memory (" + e.getMessage() + "); raise -Xmx with VL4J_JAVA_OPTS or use a smaller model";
        }
        String msg = e.getMessage();
        return e.getClass().getSimpleName() + (msg == null ? "" : ": " + msg.lines().findFirst().orElse(""));
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"vl4j " + (v == null ? "dev" : v) + " (Java " + Runtime.version() + ")"};
        }
    }
}
