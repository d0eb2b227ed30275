package io.reelay.loadtest.bench;

import io.reelay.loadtest.report.Report;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** How the machine's CPU was shared during a measured span: the cores each part (and this driver) used. */
final class CpuShare {

  private final Fleet fleet;
  private final Map<String, Double> before = new LinkedHashMap<>();
  private final Map<String, Double> used = new LinkedHashMap<>();

  /** Starts the span now, over the parts running now. */
  CpuShare(Fleet fleet) {
    this.fleet = fleet;
    fleet.parts().stream().filter(p -> p.process().isAlive()).forEach(p -> before.put(p.name(), p.cpuSeconds()));
    before.put("driver", Fleet.cpuSeconds(ProcessHandle.current().pid()));
  }

  /** Ends the span ({@code seconds} long) and adds each part's cores used to {@code report}. */
  void report(Report report, double seconds) {
    report(report, seconds, "cores used: ");
  }

  /** As {@link #report(Report, double)}, each figure named {@code prefix} + the part's name. */
  void report(Report report, double seconds, String prefix) {
    fleet.parts().stream().filter(p -> before.containsKey(p.name()))
        .forEach(p -> used.put(p.name(), (p.cpuSeconds() - before.get(p.name())) / seconds));
    used.put("driver", (Fleet.cpuSeconds(ProcessHandle.current().pid()) - before.get("driver")) / seconds);
    used.forEach((name, cores) -> report.figure(prefix + name, cores));
  }

  /** Cores used by all the parts and the driver together (known once reported). */
  double total() {
    return used.values().stream().filter(v -> !v.isNaN()).mapToDouble(Double::doubleValue).sum();
  }

  /** "1.3 (worker 0.9, kafka 0.3, …)". */
  String summary() {
    double total = used.values().stream().filter(v -> !v.isNaN()).mapToDouble(Double::doubleValue).sum();
    return String.format(Locale.ROOT, "%.1f (%s)", total, used.entrySet().stream()
        .map(e -> String.format(Locale.ROOT, "%s %.1f", e.getKey(), e.getValue())).collect(Collectors.joining(", ")));
  }

  /** CPU milliseconds per unit of work ({@code units} done in {@code seconds}), by part: "worker 5.9 ms, kafka 2.7 ms, …". */
  String perUnit(double seconds, long units) {
    return used.entrySet().stream()
        .map(e -> String.format(Locale.ROOT, "%s %.1f ms", e.getKey(), e.getValue() * seconds * 1000 / Math.max(1, units)))
        .collect(Collectors.joining(", "));
  }
}
