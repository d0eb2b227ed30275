package io.reelay.cli;

import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.EmbeddedKafka;
import io.reelay.sim.NemoSim;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** One part of Reelay alone, configured by config/reelay.conf and the environment: how a fleet runs. */
final class PartCommands {

  private PartCommands() {}

  /** Runs a part's main and keeps the process alive until it is stopped (SIGTERM / Ctrl-C). */
  private static int runForever(ThrowingMain main, String[] args) throws Exception {
    // a part whose actor system stops (e.g. its Kafka stream died) exits, so an orchestrator restarts it
    System.setProperty("pekko.coordinated-shutdown.exit-jvm", "on");
    ConfigFactory.invalidateCaches();
    main.run(args);
    new CountDownLatch(1).await();
    return 0;
  }

  private interface ThrowingMain {
    void run(String[] args) throws Exception;
  }

  /** A part: picocli needs one class per subcommand, the rest is shared. */
  private abstract static class Part implements Callable<Integer> {
    abstract ThrowingMain main();

    /** What the part's main is given; most parts take everything from config. */
    String[] args() {
      return new String[0];
    }

    @Override
    public Integer call() throws Exception {
      return runForever(main(), args());
    }
  }

  @Command(name = "worker", mixinStandardHelpOptions = true, description = "Run one worker (joins the workers' consumer group).")
  static final class Worker extends Part {
    ThrowingMain main() {
      return io.reelay.worker.Worker::main;
    }
  }

  @Command(name = "status-server", mixinStandardHelpOptions = true, description = "Run the status HTTP service.")
  static final class StatusServer extends Part {
    ThrowingMain main() {
      return io.reelay.status.StatusServer::main;
    }
  }

  @Command(name = "sim", mixinStandardHelpOptions = true, description = "Run the NemoVideo simulator.")
  static final class Sim extends Part {
    ThrowingMain main() {
      return NemoSim::main;
    }
  }

  @Command(name = "kafka", mixinStandardHelpOptions = true,
      description = "Run a single-node Kafka broker on 127.0.0.1 (data in var/kafka) until SIGTERM / Ctrl-C.")
  static final class Kafka extends Part {

    @Parameters(index = "0", arity = "0..1", paramLabel = "PORT",
        description = "Broker port; 0 = a free one (default: REELAY_KAFKA_PORT, else the port of REELAY_KAFKA_BOOTSTRAP, else 9092).")
    Integer port;

    @Parameters(index = "1", arity = "0..1", paramLabel = "DATA_DIR",
        description = "Log directory, formatted on first use and reused after (default: REELAY_KAFKA_DATA, else var/kafka under reelay.home).")
    Path dataDir;

    @Parameters(index = "2", arity = "0..1", paramLabel = "CONTROLLER_PORT",
        description = "KRaft controller port; 0 = a free one (default: REELAY_KAFKA_CONTROLLER_PORT, else 0).")
    Integer controllerPort;

    ThrowingMain main() {
      return EmbeddedKafka::main;
    }

    @Override
    String[] args() {
      // EmbeddedKafka.main reads its arguments by position; a blank one falls back to the environment
      Path data = dataDir;
      String fromEnv = System.getenv("REELAY_KAFKA_DATA");
      if (data == null && (fromEnv == null || fromEnv.isBlank())) {
        data = new Home(ConfigFactory.load()).var().resolve("kafka"); // where `reelay up` keeps it
      }
      return new String[] {text(port), text(data), text(controllerPort)};
    }

    private static String text(Object o) {
      return o == null ? "" : o.toString();
    }
  }
}
