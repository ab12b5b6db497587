package ai.vl4j.cli;

import ai.vl4j.text.Tokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code vl4j tokenize}: the ids (and byte-level tokens) of a text under a model's tokenizer. */
@Command(name = "tokenize", description = "Show the token ids of TEXT.")
final class TokenizeCommand implements Callable<Integer> {
    @Mixin
    ModelOption model;

    @Option(names = "--no-bos", description = "Do not prepend the BOS id.")
    boolean noBos;

    @Option(names = "--json", description = "Print {\"ids\": [...], \"tokens\": [...]}.")
    boolean json;

    @Parameters(paramLabel = "TEXT", description = "The text to tokenize.")
    String text;

    @Override
    public Integer call() throws Exception {
        PrintStream out = Streams.out();
        try (Tokenizer tokenizer = Tokenizer.load(model.resolve().resolve("tokenizer.json"))) {
            int[] ids = tokenizer.encode(text, !noBos);
            List<String> tokens = new ArrayList<>();
            for (int id : ids) {
                tokens.add(tokenizer.tokenString(id));
            }
            if (json) {
                Map<String, Object> obj = new LinkedHashMap<>();
                obj.put("ids", ids);
                obj.put("tokens", tokens);
                out.println(new ObjectMapper().writeValueAsString(obj));
            } else {
                for (int i = 0; i < ids.length; i++) {
                    out.printf("%d\t%s%n", ids[i], tokens.get(i));
                }
            }
        }
        return 0;
    }
}
