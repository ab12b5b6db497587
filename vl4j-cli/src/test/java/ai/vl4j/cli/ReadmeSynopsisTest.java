package ai.vl4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The README's command synopsis (the code block under "## The commands") against the commands as registered in
 * {@link Main}: every command has an entry, every entry's options are the command's options (no more, no fewer),
 * shown outside brackets exactly when required, and each appears in the command's --help. A new subcommand fails
 * this test until the README shows it.
 */
class ReadmeSynopsisTest {
    static final Pattern OPTION = Pattern.compile("--[a-z0-9][a-z0-9-]*");

    /** The README's synopsis: command name → its text (continuation lines joined). */
    static Map<String, String> synopsis() throws IOException {
        List<String> lines = Files.readAllLines(Vl4jProcess.ROOT.resolve("README.md"));
        int heading = lines.indexOf("## The commands");
        assertTrue(heading >= 0, "README.md has no '## The commands' section");
        int open = heading + 1;
        while (open < lines.size() && !lines.get(open).startsWith("```")) {
            open++;
        }
        Map<String, String> entries = new LinkedHashMap<>();
        String current = null;
        for (int i = open + 1; i < lines.size() && !lines.get(i).startsWith("```"); i++) {
            String line = lines.get(i);
            if (line.startsWith("vl4j ")) {
                current = line.split("\\s+")[1];
                assertTrue(entries.put(current, line.substring(5 + current.length())) == null, "two README entries for " + current);
            } else if (!line.isBlank() && current != null) {
                entries.put(current, entries.get(current) + " " + line.strip());
            }
        }
        return entries;
    }

    /** The registered subcommands by name (aliases and picocli's help command left out). */
    static Map<String, CommandSpec> commands() {
        Map<String, CommandSpec> out = new LinkedHashMap<>();
        Map<CommandLine, Boolean> seen = new IdentityHashMap<>();
        new CommandLine(new Main()).getSubcommands().forEach((name, cli) -> {
            if (seen.put(cli, true) == null && !(cli.getCommandSpec().userObject() instanceof CommandLine.HelpCommand)) {
                out.put(cli.getCommandSpec().name(), cli.getCommandSpec());
            }
        });
        return out;
    }

    @Test
    void everyCommandHasAnEntryAndNoEntryLacksACommand() throws IOException {
        Map<String, String> readme = synopsis();
        Set<String> registered = commands().keySet();
        for (String name : registered) {
            assertTrue(readme.containsKey(name), "README.md's command synopsis (under '## The commands') has no entry for 'vl4j " + name
                    + "'; add one that lists its options as 'vl4j " + name + " --help' shows them");
        }
        assertEquals(new TreeSet<>(registered), new TreeSet<>(readme.keySet()), "commands in the README but not in Main");
    }

    @Test
    void entriesListTheOptionsOfHelp() throws IOException {
        Map<String, String> readme = synopsis();
        List<String> problems = new ArrayList<>();
        commands().forEach((name, spec) -> {
            String entry = readme.get(name);
            if (entry == null) {
                return;                                       // reported by the test above
            }
            Map<String, Boolean> shown = options(entry);      // name → shown as required
            String help = help(name);
            for (OptionSpec o : spec.options()) {
                if (o.inherited() || o.usageHelp() || o.versionHelp()) {
                    continue;                                 // --quiet, --verbose, --help, --version: said once for all
                }
                String long_ = o.longestName();
                if (!shown.containsKey(long_)) {
                    problems.add("vl4j " + name + ": " + long_ + " is missing from the README");
                } else if (shown.get(long_) != o.required()) {
                    problems.add("vl4j " + name + ": " + long_ + " is " + (o.required() ? "required" : "optional")
                            + " but the README shows it " + (o.required() ? "in brackets" : "without brackets"));
                }
            }
            for (String option : shown.keySet()) {
                OptionSpec o = spec.findOption(option);
                if (o == null || o.inherited()) {
                    problems.add("vl4j " + name + ": the README shows " + option + ", which the command does not take");
                } else if (!help.contains(option)) {
                    problems.add("vl4j " + name + " --help does not mention " + option);
                }
            }
        });
        if (!problems.isEmpty()) {
            fail("README.md's command synopsis and the commands' --help differ:\n  " + String.join("\n  ", problems));
        }
    }

    @Test
    void theGlobalOptionsAreSaidOnce() throws IOException {
        String readme = Files.readString(Vl4jProcess.ROOT.resolve("README.md"));
        for (OptionSpec o : new CommandLine(new Main()).getCommandSpec().options()) {
            if (o.scopeType() == CommandLine.ScopeType.INHERIT && !o.usageHelp() && !o.versionHelp()) {
                assertTrue(readme.contains("`" + o.longestName() + "`"), "README.md does not mention " + o.longestName());
            }
        }
    }

    /** The options of a synopsis entry, each with whether it stands outside brackets (required). */
    static Map<String, Boolean> options(String entry) {
        Map<String, Boolean> out = new LinkedHashMap<>();
        int depth = 0;
        for (int i = 0; i < entry.length(); i++) {
            char c = entry.charAt(i);
            if (c == '[') {
                depth++;
            } else if (c == ']') {
                depth--;
            } else if (c == '-' && (i == 0 || entry.charAt(i - 1) == ' ' || entry.charAt(i - 1) == '[' || entry.charAt(i - 1) == '(')) {
                Matcher m = OPTION.matcher(entry).region(i, entry.length());
                if (m.lookingAt()) {
                    out.put(m.group(), depth == 0);
                    i = m.end() - 1;
                }
            }
        }
        return out;
    }

    static String help(String command) {
        CliTest.Result r = CliTest.vl4j(command, "--help");
        assertEquals(0, r.code(), r.err());
        return r.out();
    }
}
