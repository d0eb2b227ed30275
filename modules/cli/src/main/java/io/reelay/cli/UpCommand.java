package io.reelay.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.protocol.Topics;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code reelay up}: the whole local stack in the foreground until Ctrl-C. */
@Command(name = "up", mixinStandardHelpOptions = true,
    description = "Start Kafka (data in var/kafka), the simulator, N workers and the status service; Ctrl-C stops them.")
final class UpCommand implements Callable<Integer> {

  @Option(names = "--workers", paramLabel = "N", defaultValue = "1", description = "Workers in the consumer group (default: ${DEFAULT-VALUE}).")
  int workers;

  @Override
  public Integer call() throws Exception {
    if (workers < 1) {
      System.err.println("reelay: --workers must be at least 1");
      return 2;
    }
    Config config = ConfigFactory.load();
    Home home = new Home(config);
    String configured = config.getString("reelay.status.api-keys").trim();
    String apiKey;
    String keyNote;
    if (configured.isEmpty()) {
      apiKey = home.writeNewApiKey();
      keyNote = "api key for tenant default in " + home.apiKeyFile() + ": " + apiKey;
    } else {
      apiKey = null;
      keyNote = "api keys from REELAY_API_KEYS";
    }
    if (config.getString("reelay.worker.state-key").isBlank()) {
      // dev mode: a state key kept in var/, so snapshots written before a restart still decrypt
      config = ConfigFactory.parseMap(Map.of("reelay.worker.state-key", home.stateKey()))
          .withFallback(config);
    }
    // webhooks to this machine, unsigned, unless the user chose otherwise
    LocalStack.LocalWebhooks hooks = LocalStack.localWebhooks(config);
    config = hooks.config();
    double ts = config.getDouble("reelay.embedded.time-scale");
    Topics topics = Topics.withPrefix(config.getString("reelay.topics.prefix"));
    LocalStack stack = LocalStack.start(config, new LocalStack.Options(
        home.var().resolve("kafka"), config.getInt("reelay.embedded.kafka-port"), null,
        config.getInt("nemo-sim.port"), config.getInt("reelay.status.port"), workers, ts,
        apiKey, topics, config.getInt("reelay.embedded.partitions"), home.var().resolve("status")));
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      System.out.println("reelay: stopping…");
      stack.close();
      stopped.countDown();
    }, "reelay-up-stop"));
    System.out.printf("reelay ready kafka=%s status=%s sim=%s workers=%d time-scale=%s%n",
        stack.bootstrapServers(), stack.statusUrl(), stack.simUrl(), workers, ts);
    System.out.println("  " + keyNote);
    System.out.println("  dashboard: " + stack.statusUrl() + "/ (sign in with that key)");
    System.out.println("  workers' /healthz /readyz /metrics: " + String.join(" ", stack.workerUrls()));
    if (hooks.note() != null) {
      System.out.println("  " + hooks.note());
    }
    System.out.println("  local uploads (upload.path) of tenant default are read from "
        + Path.of(config.getString("reelay.worker.uploads.media-dir")).toAbsolutePath().normalize().resolve("default") + "/");
    System.out.println("  try: bin/reelay submit \"a fox running through a snowy forest at dusk\" --follow");
    stopped.await();
    return 0;
  }
}
