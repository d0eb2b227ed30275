package io.reelay.loadtest.bench;

import io.reelay.loadtest.report.Goal;
import io.reelay.loadtest.report.Report;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code reelay loadtest SCENARIO [--quick]}: runs a measured scenario (starting the broker, the
 * simulator, workers and the status service it needs, each in its own process), the peer beside
 * it, and writes {@code loadtest/reports/SCENARIO.json}, {@code .md} and the plots.
 */
@Command(name = "loadtest", mixinStandardHelpOptions = true,
    description = {"Measure one of Reelay's performance goals on this machine, the peer (the seed's curl flow) beside it.",
        "Writes loadtest/reports/SCENARIO.json, SCENARIO.md and PNG plots (--quick: under loadtest/reports/quick/).",
        "Scenarios: ${COMPLETION-CANDIDATES}, or all."})
public final class LoadtestCommand implements Callable<Integer> {

  /** Every scenario, by name. */
  public static final Map<String, Scenario> SCENARIOS = scenarios(
      new ThroughputScenario(), new OverheadScenario(), new StatusScenario(), new FailoverScenario(), new CapacityScenario(),
      new RenderDetectScenario(), new ScaleOutScenario(), new ChaosScenario(), new MemoryScenario(),
      new StoreScenario());

  private static Map<String, Scenario> scenarios(Scenario... all) {
    Map<String, Scenario> m = new LinkedHashMap<>();
    for (Scenario s : all) {
      m.put(s.name(), s);
    }
    return m;
  }

  @Parameters(index = "0", paramLabel = "SCENARIO", completionCandidates = Names.class,
      description = "which goal to measure: ${COMPLETION-CANDIDATES}, or all")
  String scenario;

  @Option(names = "--quick", description = "a short run (about a minute) that checks the scenario works; its figures are not the goal's")
  boolean quick;

  @Option(names = "--no-peer", description = "skip the peer (the seed's curl flow)")
  boolean noPeer;

  @Option(names = "--count", description = "requests (or sessions, renders…) to run, instead of the scenario's default")
  Integer count;

  @Option(names = "--rate", description = "offered requests per second, where the scenario has a fixed rate")
  Double rate;

  @Option(names = "--seconds", description = "how long to hold the load, where the scenario holds it for a time")
  Integer seconds;

  @Option(names = "--out", description = "where the report goes (default: loadtest/reports, --quick: loadtest/reports/quick)")
  Path out;

  @Option(names = "--work", description = "where the started processes keep their data and logs (default: var/loadtest)")
  Path work;

  @Option(names = "--log-level", defaultValue = "WARN", description = "log level of the started processes (their logs: var/loadtest/)")
  String logLevel;

  static final class Names extends ArrayList<String> {
    Names() {
      super(SCENARIOS.keySet());
    }
  }

  @Override
  public Integer call() throws Exception {
    List<Scenario> run = new ArrayList<>();
    if (scenario.equals("all")) {
      run.addAll(SCENARIOS.values());
    } else if (SCENARIOS.containsKey(scenario)) {
      run.add(SCENARIOS.get(scenario));
    } else {
      throw new IllegalArgumentException("unknown scenario '" + scenario + "'; one of " + String.join(", ", SCENARIOS.keySet())
          + ", or all");
    }
    Path root = repoRoot();
    Path reports = out != null ? out : root.resolve(quick ? "loadtest/reports/quick" : "loadtest/reports");
    boolean allMet = true;
    for (Scenario s : run) {
      Bench bench = new Bench(quick, root, reports, work != null ? work : root.resolve("var/loadtest"), !noPeer, count, rate, seconds,
          logLevel);
      System.out.println("loadtest " + s.name() + (quick ? " (quick)" : "") + ": " + s.measures());
      Report report = s.run(bench);
      Path json = report.relativeTo(root).write(reports);
      for (Goal g : report.goals()) {
        System.out.printf(Locale.ROOT, "  %-50s %s %s (goal %s)%s%n", g.name(), fmt(g.measured()), g.unit(), g.goal(),
            g.met() ? "" : "  MISSED");
      }
      System.out.println("  report: " + json + " and " + json.resolveSibling(s.name() + ".md"));
      allMet &= report.allMet();
    }
    return quick || allMet ? 0 : 3;
  }

  private static String fmt(double v) {
    return Double.isNaN(v) ? "—" : String.format(Locale.ROOT, Math.abs(v) >= 100 ? "%,.0f" : "%.2f", v);
  }

  /** The checkout: {@code -Dreelay.home} (set by {@code bin/reelay}), else the nearest directory up with {@code loadtest/peer}. */
  static Path repoRoot() {
    String home = System.getProperty("reelay.home");
    if (home != null && !home.isBlank() && Files.isDirectory(Path.of(home, "loadtest", "peer"))) {
      return Path.of(home).toAbsolutePath();
    }
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isDirectory(p.resolve("loadtest/peer"))) {
        return p;
      }
    }
    throw new IllegalStateException("run it from the Reelay checkout, as bin/reelay loadtest (loadtest/peer/ is not here or above)");
  }
}
