package ai.vl4j.cli;

import ai.vl4j.InvalidInputException;
import ai.vl4j.hub.HfCache;
import ai.vl4j.hub.HubClient;
import ai.vl4j.hub.RepoRef;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code vl4j rm ORG/NAME...}: deletes models from the Hugging Face cache. */
@Command(name = "rm", description = "Delete models from the local Hugging Face cache.")
final class RmCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "MODEL", description = "Hugging Face ids ORG/NAME, as 'vl4j list' shows them.")
    List<String> models;

    @Override
    public Integer call() {
        HfCache cache = HubClient.fromEnvironment(Streams.env()).cache();
        for (String model : models) {   // check them all first: a typo deletes nothing
            RepoRef ref = RepoRef.parse(model);
            if (!ref.revision().equals("main")) {
                throw new InvalidInputException(model + ": rm deletes whole models; give ORG/NAME without @revision");
            }
            if (cache.find(ref.repo()) == null) {
                throw new InvalidInputException(model + ": not in the cache " + cache.root() + " (see vl4j list)");
            }
        }
        for (String model : models) {
            long freed = cache.remove(RepoRef.parse(model).repo());
            Streams.out().println("deleted " + model + " (" + ProgressBar.size(freed) + " freed)");
        }
        return 0;
    }
}
