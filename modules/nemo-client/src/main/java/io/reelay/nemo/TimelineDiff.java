package io.reelay.nemo;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * What changed between two drafts, in the words of the timeline summary: {@code Title added:
 * "Paradise Found" (0-3s)}. Used when the agent changed the timeline without saying anything (a
 * silent edit) and when a dropped stream is checked for its result.
 */
public final class TimelineDiff {

  private TimelineDiff() {}

  /** @return one sentence per change; empty when nothing visible changed */
  public static List<String> changes(JsonNode before, JsonNode after) {
    List<String> was = new ArrayList<>(TimelineSummary.tracks(before));
    List<String> now = new ArrayList<>(TimelineSummary.tracks(after));
    List<String> common = new ArrayList<>(was);
    common.retainAll(now);
    was.removeAll(common);
    now.removeAll(common);
    List<String> out = new ArrayList<>();
    for (String line : now) {
      String kind = kind(line);
      String replaced = was.stream().filter(w -> kind(w).equals(kind)).findFirst().orElse(null);
      if (replaced != null) {
        was.remove(replaced);
        out.add(kind + " changed:" + line.substring(kind.length() + 1));
      } else {
        out.add(kind + " added:" + line.substring(kind.length() + 1));
      }
    }
    for (String line : was) {
      out.add(kind(line) + " removed:" + line.substring(kind(line).length() + 1));
    }
    return out;
  }

  /** The changes as one message, or {@code fallback} when nothing visible changed. */
  public static String describe(JsonNode before, JsonNode after, String fallback) {
    List<String> c = changes(before, after);
    return c.isEmpty() ? fallback : String.join("; ", c);
  }

  private static String kind(String line) {
    int colon = line.indexOf(':');
    return colon < 0 ? line : line.substring(0, colon);
  }
}
