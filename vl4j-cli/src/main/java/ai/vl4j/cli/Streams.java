package ai.vl4j.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.util.Map;

/**
 * What the running command reads and writes: stdin (chat), stdout (results), stderr (progress and errors), the
 * environment variables, and the global --quiet / --verbose flags; set once per command line by
 * {@link Main#execute}, so tests can run commands in-process with their own streams and environment.
 */
final class Streams {
    private static InputStream in = System.in;
    private static PrintStream out = System.out;
    private static PrintStream err = System.err;
    private static boolean quiet;
    private static boolean verbose;
    private static Map<String, String> env = System.getenv();

    private Streams() {
    }

    static void set(InputStream i, PrintStream o, PrintStream e) {
        in = i;
        out = o;
        err = e;
    }

    /** The environment variables the command sees (HF_HOME, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE ...). */
    static void env(Map<String, String> variables) {
        env = variables;
    }

    static Map<String, String> env() {
        return env;
    }

    static void flags(boolean isQuiet, boolean isVerbose) {
        quiet = isQuiet;
        verbose = isVerbose;
    }

    static InputStream in() {
        return in;
    }

    static PrintStream out() {
        return out;
    }

    static PrintStream err() {
        return err;
    }

    /** --quiet: no progress displays or notes, only results and errors. */
    static boolean quiet() {
        return quiet;
    }

    /** --verbose: stages, timings and stack traces. */
    static boolean verbose() {
        return verbose;
    }
}
