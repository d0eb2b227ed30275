package io.reelay.cli;

import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.EmbeddedKafka;
import io.reelay.sim.NemoSim;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;

/** One part of Reelay alone, configured by config/reelay.conf and the environment: how a fleet runs. */
final class PartCommands {

  private PartCommands() {}

  /** Runs a part's main and keeps the process alive until it is stopped (SIGTERM / Ctrl-C). */
  private static int runForever(ThrowingMain main) throws Exception {
    // a part whose actor system stops (e.g. its Kafka stream died) exits, so an orchestrator restarts it
    System.setProperty("pekko.coordinated-shutdown.exit-jvm", "on");
    ConfigFactory.invalidateCaches();
    main.run(new String[0]);
    new CountDownLatch(1).await();
    return 0;
  }

  private interface ThrowingMain {
    void run(String[] args) throws Exception;
  }

  /** A part: picocli needs one class per subcommand, the rest is shared. */
  private abstract static class Part implements Callable<Integer> {
    abstract ThrowingMain main();

    @Override
    public Integer call() throws Exception {
      return runForever(main());
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

  @Command(name = "kafka", mixinStandardHelpOptions = true, description = "Run a single-node Kafka broker (data in var/kafka).")
  static final class Kafka extends Part {
    ThrowingMain main() {
      return EmbeddedKafka::main;
    }
  }
}
