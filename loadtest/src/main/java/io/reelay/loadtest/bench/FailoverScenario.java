package io.reelay.loadtest.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.loadtest.report.Goal;
import io.reelay.loadtest.report.Report;
import io.reelay.loadtest.report.Series;
import io.reelay.protocol.Action;
import io.reelay.protocol.Json;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Two worker processes share the load; one is stopped with SIGTERM (a rolling deploy), a new one
 * joins, then another is killed with SIGKILL (a lost machine). Measured: how long until the
 * partitions (so the sessions) of the worker that went away are owned by a live one again, as the
 * broker reports the group, and whether any job was lost or ran twice (every request ends once; the
 * simulator counts no repeated message and no second render submit).
 */
public final class FailoverScenario implements Scenario {

  @Override
  public String name() {
    return "failover";
  }

  @Override
  public String measures() {
    return "two workers, one stopped (SIGTERM) and one killed (kill -9) mid-run: time until their sessions are owned again; jobs "
        + "lost and duplicated; goals ≤ 3 s and ≤ 15 s, 0 and 0";
  }

  @Override
  public Report run(Bench bench) throws Exception {
    int sessions = bench.count(24, 48);
    int perSession = bench.quick() ? 9 : 15;
    double timeScale = 0.01;
    Report report = new Report(name(), bench.quick()).command(bench.command(name()));
    try (Fleet fleet = new Fleet(bench.workDir().resolve(name()), bench.logLevel())) {
      Fleet.Kafka kafka = fleet.kafka(name(), 12);
      Fleet.Part sim = fleet.sim(Sims.loadProfile(timeScale), "1g");
      String workerConf = """
          max-active-requests = 512
          recovery { first-check = 1s, interval = 1s, max-unchanged = 5 }
          render-poll { grid = %dms, margin = 5ms, min-gap = 5ms }
          """.formatted(Math.max(10, (long) (30_000 * timeScale)));
      Fleet.Part a = fleet.worker("worker-a", kafka, sim.url(), workerConf, "calls-per-second = 0", "1g");
      Fleet.Part b = fleet.worker("worker-b", kafka, sim.url(), workerConf, "calls-per-second = 0", "1g");
      handedOver(kafka, 2, System.nanoTime(), System.nanoTime(), new Series("settling")); // the group settles on two members
      Thread.sleep(5000); // the group settles on two members

      try (Traffic traffic = new Traffic(kafka.bootstrap(), kafka.topics(), true)) {
        List<String> ids = new ArrayList<>();
        for (int k = 0; k < perSession; k++) {
          for (int s = 0; s < sessions; s++) {
            boolean export = k % 3 == 2;
            ids.add(traffic.send("f" + s, export ? Action.EXPORT : Action.GENERATE,
                export ? "export" : "generate a 5-second clip of a harbour at dawn, take " + k));
          }
        }
        traffic.flush();
        long t0 = System.nanoTime();
        awaitFraction(traffic, ids, 0.15, Duration.ofMinutes(5));

        Series owned = new Series("partitions owned by a live worker");
        long termAt = System.nanoTime();
        a.stop(Duration.ofSeconds(60));
        double afterTerm = handedOver(kafka, 1, termAt, t0, owned);
        boolean exited = !a.process().isAlive();

        fleet.worker("worker-c", kafka, sim.url(), workerConf, "calls-per-second = 0", "1g");
        handedOver(kafka, 2, System.nanoTime(), t0, owned); // the newcomer takes its share (an incremental rebalance)
        long killAt = System.nanoTime();
        b.kill();
        double afterKill = handedOver(kafka, 1, killAt, t0, owned);

        int ended = traffic.awaitAll(ids, Duration.ofMinutes(bench.quick() ? 5 : 15));
        double total = (System.nanoTime() - t0) / 1e9;
        JsonNode stats = Json.read(HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(sim.url() + "/_sim/stats")).build(),
            HttpResponse.BodyHandlers.ofString()).body(), JsonNode.class);
        long repeated = stats.path("repeatedMessages").asLong();
        long duplicateRenders = stats.path("duplicateRenderSubmits").asLong();
        long lost = ids.size() - ended;
        long twice = traffic.endedTwice();

        report.setting("load", sessions + " sessions × " + perSession + " requests (two generations, then an export), "
            + ids.size() + " in all, queued up front").setting("workers", "2 processes (-Xmx1g), then 1 + a newcomer")
            .setting("simulator", "own process, time-scale " + timeScale + " (a generation 1–3 s)")
            .setting("consumer group", "classic, cooperative-sticky, session.timeout.ms 10 s (the default)");
        report.figure("requests", ids.size()).figure("ended", ended).figure("completed", traffic.completed(ids))
            .figure("ended twice (different terminal events)", twice)
            .figure("the same terminal event read again", traffic.duplicates() - twice)
            .figure("simulator: repeated agent messages", repeated).figure("simulator: second render submits", duplicateRenders)
            .figure("SIGTERM: worker exited within 60 s", exited).figure("run seconds", total);
        report.goal(explain(Goal.atMost("its partitions owned again after SIGTERM", 3, afterTerm, "s"), "stop-grace lets the "
            + "requests in hand finish for up to 10 s before the hand-over"))
            .goal(explain(Goal.atMost("its partitions owned again after kill -9", 15, afterKill, "s"), "the broker notices a dead "
                + "member only after session.timeout.ms (10 s), then the group rebalances"))
            .goal(Goal.atMost("jobs lost", 0, lost, "requests").because(lost + " requests had no terminal event " + (bench.quick() ? 5 : 15)
                + " min after the start; see " + fleet.dir()))
            .goal(Goal.atMost("jobs duplicated", 0, twice + repeated + duplicateRenders, "jobs")
                .because(twice + " ended twice, " + repeated + " agent messages repeated, " + duplicateRenders
                    + " renders submitted twice"));
        report.plot("partitions", "Partitions of the requests topic owned by a live worker", "partitions", owned);
        report.note("\"Owned again\" is from the signal to the moment the consumer group has only the live workers and they hold "
            + "every partition of the requests topic, as the broker reports it (polled every 100 ms): from then on the new owner "
            + "reads the moved sessions' snapshots and resumes their requests. Jobs lost: requests without a terminal event; "
            + "duplicated: requests that ended twice, agent messages the simulator saw twice, renders submitted twice. The peer "
            + "has no counterpart here: a shell that dies loses its video, and one run again pays for it twice (the seed's flow "
            + "keeps no state).");
      }
    }
    return report;
  }

  private static Goal explain(Goal g, String why) {
    return g.met() ? g : g.because(why);
  }

  private static void awaitFraction(Traffic t, List<String> ids, double fraction, Duration timeout) throws InterruptedException {
    long until = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < until && ids.stream().filter(id -> t.done(id) != null).count() < fraction * ids.size()) {
      Thread.sleep(200);
    }
  }

  /**
   * Seconds from {@code since} until the workers' group has {@code members} members holding every
   * partition of the requests topic (polled every 100 ms, for at most 2 minutes; NaN if never).
   */
  private static double handedOver(Fleet.Kafka kafka, int members, long since, long t0, Series owned) throws Exception {
    String group = kafka.prefix() + "-workers";
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap()))) {
      int partitions = admin.describeTopics(List.of(kafka.topics().requests())).allTopicNames().get(30, TimeUnit.SECONDS)
          .get(kafka.topics().requests()).partitions().size();
      long until = since + TimeUnit.MINUTES.toNanos(2);
      while (System.nanoTime() < until) {
        ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS).get(group);
        Set<Integer> held = new HashSet<>();
        for (MemberDescription m : d.members()) {
          m.assignment().topicPartitions().forEach(tp -> held.add(tp.partition()));
        }
        long now = System.nanoTime();
        owned.add((now - t0) / 1e9, held.size());
        if (d.members().size() == members && held.size() == partitions) {
          return (now - since) / 1e9;
        }
        Thread.sleep(100);
      }
    }
    return Double.NaN;
  }
}
