package io.reelay.loadtest.report;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.reelay.protocol.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * What a scenario measured, written as {@code SCENARIO.json} (machine-readable: every goal, the
 * machine), {@code SCENARIO.md} (for people: the goals beside the peer, why a goal was missed, the
 * latency percentiles, how it ran) and a PNG plot per series group.
 */
public final class Report {

  /** A named latency distribution, in milliseconds. */
  public record Latency(String name, Histogram histogram) {}

  private final String scenario;
  private final boolean quick;
  private final Machine machine = Machine.here();
  private final Instant started = Instant.now();
  private final Map<String, Object> settings = new LinkedHashMap<>();
  private final List<Goal> goals = new ArrayList<>();
  private final Map<String, Object> figures = new LinkedHashMap<>();
  private final List<Latency> latencies = new ArrayList<>();
  private final List<String> notes = new ArrayList<>();
  private final List<Plot> plots = new ArrayList<>();
  private String command;
  private Path root;

  /** A PNG: one or more series over time on one chart; {@code points}: a dot per value, no lines (one value per event). */
  public record Plot(String file, String title, String yLabel, List<Series> series, boolean points) {}

  public Report(String scenario, boolean quick) {
    this.scenario = scenario;
    this.quick = quick;
  }

  public String scenario() {
    return scenario;
  }

  /** Paths under {@code root} (the checkout) are written relative to it: a report names no machine's directories. */
  public Report relativeTo(Path root) {
    this.root = root;
    return this;
  }

  private String local(String text) {
    return root == null ? text : text.replace(root.toAbsolutePath() + "/", "");
  }

  /** The command that reproduces this report. */
  public Report command(String command) {
    this.command = command;
    return this;
  }

  /** How the scenario ran (profile, processes, counts): part of what the figures mean. */
  public Report setting(String key, Object value) {
    settings.put(key, value);
    return this;
  }

  public Report goal(Goal g) {
    goals.add(g);
    return this;
  }

  /** A figure measured beside the goals (the peer's own numbers, costs, counts). */
  public Report figure(String name, Object value) {
    figures.put(name, value instanceof Double d ? Goal.round(d) : value);
    return this;
  }

  public Report latency(String name, Histogram ms) {
    latencies.add(new Latency(name, ms));
    return this;
  }

  /** A paragraph of Markdown for the report's reader. */
  public Report note(String markdown) {
    notes.add(markdown);
    return this;
  }

  public Report plot(String name, String title, String yLabel, Series... series) {
    plots.add(new Plot(scenario + "-" + name + ".png", title, yLabel, List.of(series), false));
    return this;
  }

  /** As {@link #plot}, a dot per value instead of lines (values of separate events, such as one per render). */
  public Report scatter(String name, String title, String yLabel, Series... series) {
    plots.add(new Plot(scenario + "-" + name + ".png", title, yLabel, List.of(series), true));
    return this;
  }

  public List<Goal> goals() {
    return List.copyOf(goals);
  }

  public boolean allMet() {
    return goals.stream().allMatch(Goal::met);
  }

  /** Writes the JSON, the Markdown and the plots into {@code dir}; answers the JSON's path. */
  public Path write(Path dir) throws IOException {
    Files.createDirectories(dir);
    for (Plot p : plots) {
      Charts.png(dir.resolve(p.file()), p.title(), p.yLabel(), p.series(), p.points());
    }
    Path json = dir.resolve(scenario + ".json");
    Files.writeString(json, local(Json.mapper().writerWithDefaultPrettyPrinter().writeValueAsString(asJson())) + "\n",
        StandardCharsets.UTF_8);
    Files.writeString(dir.resolve(scenario + ".md"), local(markdown()), StandardCharsets.UTF_8);
    return json;
  }

  ObjectNode asJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("scenario", scenario);
    m.put("quick", quick);
    m.put("at", started.toString());
    m.put("command", command);
    m.put("machine", machine.asMap());
    m.put("settings", settings);
    m.put("goals", goals.stream().map(Goal::asMap).toList());
    m.put("allMet", allMet());
    m.put("figures", figures);
    Map<String, Object> lat = new LinkedHashMap<>();
    for (Latency l : latencies) {
      lat.put(l.name(), percentiles(l.histogram()));
    }
    m.put("latenciesMs", lat);
    m.put("plots", plots.stream().map(Plot::file).toList());
    return Json.mapper().valueToTree(m);
  }

  private static Map<String, Object> percentiles(Histogram h) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("count", h.getTotalCount());
    if (h.getTotalCount() > 0) {
      m.put("mean", Goal.round(h.getMean()));
      m.put("p50", h.getValueAtPercentile(50));
      m.put("p90", h.getValueAtPercentile(90));
      m.put("p99", h.getValueAtPercentile(99));
      m.put("p99.9", h.getValueAtPercentile(99.9));
      m.put("max", h.getMaxValue());
    }
    return m;
  }

  String markdown() {
    StringBuilder b = new StringBuilder();
    b.append("# `").append(scenario).append("`").append(quick ? " (quick)" : "").append("\n\n");
    b.append("Measured ").append(started).append(" on ").append(machine.oneLine())
        .append(", the simulator co-located. Figures hold for this machine only.\n\n");
    if (command != null) {
      b.append("Reproduce: `").append(command).append("`\n\n");
    }
    b.append("| goal | target | measured | peer | Reelay ÷ peer | met |\n|---|---|---|---|---|---|\n");
    for (Goal g : goals) {
      Double r = g.ratio();
      b.append("| ").append(g.name()).append(" | ").append(g.goal()).append(' ').append(g.unit())
          .append(" | ").append(Goal.fmt(g.measured())).append(' ').append(g.unit())
          .append(" | ").append(g.peer() == null ? "—" : Goal.fmt(g.peer()) + " " + g.unit())
          .append(" | ").append(r == null ? "—" : String.format(Locale.ROOT, "%.1f×", r))
          .append(" | ").append(g.met() ? "yes" : "**no**").append(" |\n");
    }
    List<Goal> missed = goals.stream().filter(g -> !g.met()).toList();
    if (!missed.isEmpty()) {
      b.append("\n**Missed.**\n\n");
      for (Goal g : missed) {
        b.append("* ").append(g.name()).append(": by ").append(Goal.fmt(g.missedBy())).append(' ').append(g.unit())
            .append(". ").append(g.why() == null ? "Not explained." : g.why()).append('\n');
      }
    }
    if (!latencies.isEmpty()) {
      b.append("\n| latency (ms) | count | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|\n");
      for (Latency l : latencies) {
        Histogram h = l.histogram();
        b.append("| ").append(l.name()).append(" | ").append(h.getTotalCount());
        if (h.getTotalCount() == 0) {
          b.append(" | — | — | — | — | — |\n");
          continue;
        }
        for (double p : new double[] {50, 90, 99, 99.9}) {
          b.append(" | ").append(h.getValueAtPercentile(p));
        }
        b.append(" | ").append(h.getMaxValue()).append(" |\n");
      }
    }
    if (!figures.isEmpty()) {
      b.append("\n| figure | value |\n|---|---|\n");
      figures.forEach((k, v) -> b.append("| ").append(k).append(" | ").append(v).append(" |\n"));
    }
    if (!settings.isEmpty()) {
      b.append("\n**How it ran.** ");
      List<String> parts = new ArrayList<>();
      settings.forEach((k, v) -> parts.add(k + ": " + v));
      b.append(String.join("; ", parts)).append(".\n");
    }
    for (String n : notes) {
      b.append('\n').append(n).append('\n');
    }
    for (Plot p : plots) {
      b.append("\n![").append(p.title()).append("](").append(p.file()).append(")\n");
    }
    return b.toString();
  }
}
