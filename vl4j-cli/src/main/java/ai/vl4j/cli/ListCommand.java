package ai.vl4j.cli;

import ai.vl4j.hub.HfCache;
import ai.vl4j.hub.HubClient;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code vl4j list}: the models in the Hugging Face cache, whoever downloaded them. */
@Command(name = "list", aliases = "ls", description = "List the models in the local Hugging Face cache.")
final class ListCommand implements Callable<Integer> {
    private static final DateTimeFormatter WHEN = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm").withZone(ZoneId.systemDefault());

    @Option(names = "--json", description = "Print a JSON array.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        HfCache cache = HubClient.fromEnvironment(Streams.env()).cache();
        List<HfCache.CachedModel> models = cache.models();
        PrintStream out = Streams.out();
        if (json) {
            List<Map<String, Object>> rows = new ArrayList<>();
            for (HfCache.CachedModel m : models) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("id", m.repoId());
                row.put("bytes", m.bytes());
                row.put("modified", m.modified().toString());
                row.put("path", m.folder().toString());
                List<Map<String, Object>> snaps = new ArrayList<>();
                for (HfCache.Snapshot s : m.snapshots()) {
                    snaps.add(Map.of("commit", s.commit(), "refs", s.refs(), "complete", s.complete()));
                }
                row.put("snapshots", snaps);
                rows.add(row);
            }
            out.println(new ObjectMapper().writeValueAsString(rows));
            return 0;
        }
        if (models.isEmpty()) {
            out.println("no models in " + cache.root() + " (vl4j pull ORG/NAME downloads one)");
            return 0;
        }
        out.printf("%-44s %-18s %10s  %s%n", "MODEL", "REVISION", "SIZE", "MODIFIED");
        for (HfCache.CachedModel m : models) {
            out.printf("%-44s %-18s %10s  %s%n", m.repoId(), revisions(m), ProgressBar.size(m.bytes()), WHEN.format(m.modified()));
        }
        return 0;
    }

    /** The refs (or short commits) of the snapshots, an incomplete one marked. */
    private static String revisions(HfCache.CachedModel m) {
        List<String> names = new ArrayList<>();
        for (HfCache.Snapshot s : m.snapshots()) {
            String name = s.refs().isEmpty() ? s.commit().substring(0, Math.min(8, s.commit().length())) : String.join(",", s.refs());
            names.add(s.complete() ? name : name + " (partial)");
        }
        return names.isEmpty() ? "-" : String.join(" ", names);
    }
}
