package io.reelay.nemo;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The seed skill's one-line timeline summary of a draft, e.g. {@code Timeline (3 tracks): 1. Video:
 * city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%) 3. Title: "Urban Dreams" (0-3s)}.
 *
 * <p>Segment keys inside {@code sg} are undocumented (nemo-api.md §10.7), so labels, starts and
 * volumes are read from whichever of the usual names is present.
 */
public final class TimelineSummary {

  private TimelineSummary() {}

  public static String of(JsonNode draft) {
    List<String> lines = tracks(draft);
    if (lines.isEmpty()) {
      return "Timeline is empty";
    }
    StringBuilder sb = new StringBuilder("Timeline (").append(lines.size()).append(" tracks):");
    for (int i = 0; i < lines.size(); i++) {
      sb.append(' ').append(i + 1).append(". ").append(lines.get(i));
    }
    return sb.toString();
  }

  /** One entry per segment-bearing track, in draft order. */
  public static List<String> tracks(JsonNode draft) {
    List<String> out = new ArrayList<>();
    JsonNode tracks = draft == null ? null : draft.get("t");
    if (tracks == null || !tracks.isArray()) {
      return out;
    }
    for (JsonNode track : tracks) {
      JsonNode sg = track.path("sg");
      if (!sg.isArray() || sg.isEmpty()) {
        continue;
      }
      int type = track.path("tt").asInt(-1);
      double start = Double.MAX_VALUE;
      double end = 0;
      String label = null;
      Integer volume = null;
      for (JsonNode seg : sg) {
        double s = firstNumber(seg, "start", "st", "s", "offset") / 1000.0;
        double d = firstNumber(seg, "d", "duration") / 1000.0;
        start = Math.min(start, s);
        end = Math.max(end, s + d);
        if (label == null) {
          label = firstText(seg, "title", "name", "text", "prompt", "label", "desc");
        }
        if (volume == null) {
          volume = volume(seg);
        }
      }
      String range = fmt(start) + "-" + fmt(end) + "s";
      switch (type) {
        case 0 -> out.add("Video: " + orElse(label, "clip") + " (" + range + ")");
        case 1 -> out.add("BGM: " + orElse(label, "music") + " (" + range + (volume == null ? "" : ", " + volume + "%") + ")");
        case 7 -> out.add("Title: \"" + orElse(label, "") + "\" (" + range + ")");
        default -> out.add("Track " + type + ": " + orElse(label, "segment") + " (" + range + ")");
      }
    }
    return out;
  }

  private static String firstText(JsonNode seg, String... keys) {
    for (JsonNode n : new JsonNode[] {seg.path("m"), seg}) {
      for (String k : keys) {
        if (n.path(k).isTextual() && !n.path(k).asText().isBlank()) {
          return n.path(k).asText();
        }
      }
    }
    return null;
  }

  private static double firstNumber(JsonNode seg, String... keys) {
    for (String k : keys) {
      if (seg.path(k).isNumber()) {
        return seg.path(k).asDouble();
      }
    }
    return 0;
  }

  private static Integer volume(JsonNode seg) {
    for (JsonNode n : new JsonNode[] {seg.path("m"), seg}) {
      JsonNode v = n.path("volume");
      if (v.isNumber()) {
        double x = v.asDouble();
        return (int) Math.round(x <= 1.0 ? x * 100 : x);
      }
    }
    return null;
  }

  private static String fmt(double seconds) {
    if (seconds == Double.MAX_VALUE) {
      return "0";
    }
    long r = Math.round(seconds);
    return Math.abs(seconds - r) < 0.05 ? Long.toString(r) : String.format(Locale.ROOT, "%.1f", seconds);
  }

  private static String orElse(String s, String other) {
    return s == null ? other : s;
  }
}
