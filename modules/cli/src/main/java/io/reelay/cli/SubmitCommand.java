package io.reelay.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.RequestValidation;
import io.reelay.protocol.Topics;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code reelay submit "TEXT"}: submits a request through the status API, so it is a request of the
 * API key's tenant (the one {@code --follow} can then see), and prints its id; {@code --kafka}
 * publishes straight to the requests topic instead, as {@code --tenant}.
 */
@Command(name = "submit", mixinStandardHelpOptions = true,
    description = "Submit a request through the status API (as the API key's tenant) and print its requestId.")
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

  @Option(names = "--status-url", paramLabel = "URL",
      description = "The status service to submit through and follow on (default: REELAY_STATUS_URL, else http://127.0.0.1:8080).")
  String statusUrl;

  @Option(names = "--kafka",
      description = "Publish straight to Kafka (REELAY_KAFKA_BOOTSTRAP) instead of through the status API, as --tenant.")
  boolean kafka;

  @Option(names = "--tenant", paramLabel = "T",
      description = "With --kafka: the tenant to publish as (default: default). Through the API the tenant is the API key's.")
  String tenant;

  private final Supplier<Config> config;
  private final PrintStream stdout;
  private final PrintStream stderr;

  SubmitCommand() {
    this(ConfigFactory::load, System.out, System.err);
  }

  /** For tests: the config to use instead of {@code ConfigFactory.load()}, and where to print. */
  SubmitCommand(Supplier<Config> config, PrintStream stdout, PrintStream stderr) {
    this.config = config;
    this.stdout = stdout;
    this.stderr = stderr;
  }

  @Override
  public Integer call() throws Exception {
    if (tenant != null && !kafka) {
      stderr.println("reelay: --tenant needs --kafka: through the status API the tenant is the API key's");
      return 2;
    }
    Config c = config.get();
    Action a = action == null ? null : Action.fromWire(action);
    Request r = new Request(Request.VERSION,
        requestId != null ? requestId : UUID.randomUUID().toString(),
        session != null ? session : "s-" + UUID.randomUUID().toString().substring(0, 8),
        kafka ? (tenant != null ? tenant : Request.DEFAULT_TENANT) : null, // the API sets the key's
        text, a, null, null, null,
        a == Action.CANCEL ? text : null, callback, kafka ? Instant.now() : null);
    List<String> problems = RequestValidation.problems(r);
    if (!problems.isEmpty()) {
      stderr.println("reelay: cannot submit: " + String.join("; ", problems));
      return 2;
    }
    StatusApi api = kafka && !follow ? null : Cli.statusApi(c, statusUrl);
    String id;
    if (kafka) {
      Topics topics = Topics.withPrefix(c.getString("reelay.topics.prefix"));
      try (RequestPublisher p = new RequestPublisher(c.getString("reelay.kafka.bootstrap-servers"), topics.requests())) {
        p.publish(r);
      }
      id = r.requestId();
    } else {
      try {
        id = api.submit(r);
      } catch (StatusApi.Refused e) {
        stderr.println("reelay: not submitted: " + e.getMessage());
        return 1;
      }
    }
    stdout.println(id);
    if (!follow) {
      return 0;
    }
    stderr.println("following " + id + " (session " + r.sessionKey() + ")"
        + (kafka ? "; the API key must be one of tenant " + r.tenantOrDefault() + " to see it" : ""));
    Event last;
    try {
      last = Follow.untilDone(api, id, r.effectiveAction().wire(), c.getDuration("reelay.cli.follow-timeout"), stderr);
    } catch (StatusApi.Refused e) {
      stderr.println("reelay: " + e.getMessage());
      return 1;
    }
    if (last.state() == RequestState.COMPLETED && out != null && last.result() != null && last.result().downloadUrl() != null) {
      stdout.println(Follow.save(api, last, out));
    }
    return last.state() == RequestState.COMPLETED ? 0 : 1;
  }
}
