package io.reelay.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.RequestValidation;
import io.reelay.protocol.Topics;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code reelay submit "TEXT"}: publishes a request and prints its id; {@code --follow} shows progress. */
@Command(name = "submit", mixinStandardHelpOptions = true,
    description = "Publish a request to Kafka and print its requestId.")
final class SubmitCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "TEXT", description = "What you want, e.g. \"a fox running through a snowy forest at dusk\" or \"export\".")
  String text;

  @Option(names = "--session", paramLabel = "KEY", description = "The video project; requests of one session run in order (default: a new one).")
  String session;

  @Option(names = "--action", paramLabel = "A", description = "generate, edit, upload, export, credits, state or cancel (default: derived from TEXT).")
  String action;

  @Option(names = "--request-id", paramLabel = "ID", description = "The idempotency key (default: a new UUID).")
  String requestId;

  @Option(names = "--callback", paramLabel = "URL", description = "POST the request's terminal event to URL when it ends (a webhook).")
  String callback;

  @Option(names = "--follow", description = "Show progress until the request ends; exit non-zero unless it COMPLETED.")
  boolean follow;

  @Option(names = "--out", paramLabel = "DIR", description = "With --follow: save the exported video into DIR.")
  Path out;

  @Override
  public Integer call() throws Exception {
    Config config = ConfigFactory.load();
    Action a = action == null ? null : Action.fromWire(action);
    Request r = new Request(Request.VERSION,
        requestId != null ? requestId : UUID.randomUUID().toString(),
        session != null ? session : "s-" + UUID.randomUUID().toString().substring(0, 8),
        Request.DEFAULT_TENANT, text, a, null, null, null,
        a == Action.CANCEL ? text : null, callback, Instant.now());
    List<String> problems = RequestValidation.problems(r);
    if (!problems.isEmpty()) {
      System.err.println("reelay: cannot submit: " + String.join("; ", problems));
      return 2;
    }
    Topics topics = Topics.withPrefix(config.getString("reelay.topics.prefix"));
    try (RequestPublisher p = new RequestPublisher(config.getString("reelay.kafka.bootstrap-servers"), topics.requests())) {
      p.publish(r);
    }
    System.out.println(r.requestId());
    if (!follow) {
      return 0;
    }
    StatusApi api = Cli.statusApi(config);
    System.err.println("following " + r.requestId() + " (session " + r.sessionKey() + ")");
    Event last = Follow.untilDone(api, r.requestId(), r.effectiveAction().wire(),
        config.getDuration("reelay.cli.follow-timeout"), System.err);
    if (last.state() == RequestState.COMPLETED && out != null && last.result() != null && last.result().downloadUrl() != null) {
      System.out.println(Follow.save(api, last, out));
    }
    return last.state() == RequestState.COMPLETED ? 0 : 1;
  }
}
