package io.reelay.worker;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * The agent's {@code ask_question} arguments ({@code questions:[{id,prompt,options:[{id,label}]}]})
 * as one line a person can answer: {@code The agent asks: Which aspect ratio? (Landscape 16:9 /
 * Portrait 9:16)}.
 */
final class Questions {

  private Questions() {}

  static String describe(JsonNode args) {
    List<String> asked = new ArrayList<>();
    for (JsonNode q : args.path("questions")) {
      String prompt = q.path("prompt").asText(q.path("question").asText(""));
      List<String> options = new ArrayList<>();
      for (JsonNode o : q.path("options")) {
        options.add(o.path("label").asText(o.path("id").asText("")));
      }
      if (!prompt.isBlank()) {
        asked.add(options.isEmpty() ? prompt : prompt + " (" + String.join(" / ", options) + ")");
      }
    }
    return asked.isEmpty() ? "The agent has a question for you." : "The agent asks: " + String.join(" ", asked);
  }
}
