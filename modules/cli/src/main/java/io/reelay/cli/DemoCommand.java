package io.reelay.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.Topics;
import io.reelay.sim.Mp4Info;
import io.reelay.sim.Mp4Probe;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code reelay demo "TEXT"}: everything, end to end, on this machine — a real Kafka broker, the
 * simulator, a worker and the status service — then a generate and an export request, followed
 * live, and the MP4 saved under {@code out/}. Exits 0 only if a playable MP4 was saved.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Run everything locally, generate a video from TEXT, export it and save the MP4.")
final class DemoCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "TEXT", description = "What the video should show.")
  String text;

  @Option(names = "--out", paramLabel = "DIR", defaultValue = "out", description = "Where to save the MP4 (default: ${DEFAULT-VALUE}).")
  Path out;

  @Override
  public Integer call() throws Exception {
    PrintStream o = System.out;
    Config config = ConfigFactory.load();
    double ts = config.getDouble("reelay.embedded.time-scale");
    o.printf("reelay demo: starting Kafka, the NemoVideo simulator, a worker and the status service on 127.0.0.1%n");
    o.printf("  the simulator runs at time-scale %s: a generation takes seconds instead of minutes%n", ts);
    Path kafkaDir = Files.createTempDirectory("reelay-demo-kafka");
    String apiKey = "demo-" + UUID.randomUUID();
    Topics topics = Topics.DEFAULT;
    Instant t0 = Instant.now();
    try (LocalStack stack = LocalStack.start(config, new LocalStack.Options(
        kafkaDir, 0, null, 0, 0, 1, ts, apiKey, topics, config.getInt("reelay.embedded.partitions")))) {
      o.printf("  ready in %.1f s: kafka %s, simulator %s, status %s%n",
          Duration.between(t0, Instant.now()).toMillis() / 1000.0, stack.bootstrapServers(), stack.simUrl(), stack.statusUrl());
      StatusApi api = new StatusApi(stack.statusUrl(), apiKey);
      String session = "demo-" + UUID.randomUUID().toString().substring(0, 8);
      try (RequestPublisher publisher = new RequestPublisher(stack.bootstrapServers(), topics.requests())) {
        Event generated = step(publisher, api, "1/2", Request.of(UUID.randomUUID().toString(), session, text, Action.GENERATE), o);
        if (generated.state() != RequestState.COMPLETED) {
          return 1;
        }
        Event exported = step(publisher, api, "2/2", Request.of(UUID.randomUUID().toString(), session, "export", Action.EXPORT), o);
        if (exported.state() != RequestState.COMPLETED) {
          return 1;
        }
        Path file = Follow.save(api, exported, out);
        Mp4Info info = Mp4Probe.probe(file);
        o.printf("%nSaved %s: %.1f s of %s video, %dx%d, %d frames%n",
            file, info.durationSeconds(), info.codec(), info.width(), info.height(), info.frames());
        o.println(file.toAbsolutePath());
        return 0;
      }
    } finally {
      LocalStack.deleteTree(kafkaDir);
    }
  }

  /** Publishes one request and follows it to its end. */
  private static Event step(RequestPublisher publisher, StatusApi api, String n, Request r, PrintStream o) throws Exception {
    publisher.publish(r);
    String action = r.effectiveAction().wire();
    o.printf("%n%s %-9s %s%n", n, action, r.requestId());
    Event last = Follow.untilDone(api, r.requestId(), action, Duration.ofMinutes(10), o);
    if (last.state() != RequestState.COMPLETED) {
      o.println("reelay demo: the " + action + " request ended " + last.state());
    }
    return last;
  }
}
