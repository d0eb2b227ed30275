package io.reelay.cli;

import com.typesafe.config.ConfigFactory;
import io.reelay.loadtest.bench.LoadtestCommand;
import java.util.Map;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code reelay}: run Reelay locally, publish requests, follow them. */
@Command(
    name = "reelay",
    mixinStandardHelpOptions = true,
    version = "reelay 0.1.0",
    description = "Text-to-video work at scale: Kafka in, NemoVideo sessions driven by workers, status out.",
    subcommands = {
      DemoCommand.class,
      UpCommand.class,
      SubmitCommand.class,
      StatusCommand.class,
      PartCommands.Worker.class,
      PartCommands.StatusServer.class,
      PartCommands.Sim.class,
      PartCommands.Kafka.class,
      LoadtestCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  /** Lets {@code CONFIG_FORCE_<path>} environment variables set any key (see docs/configuration.md). */
  static final String OVERRIDE_WITH_ENV = "config.override_with_env_vars";

  /** The commands that run parts of the service, and the service name their spans carry (OTEL_SERVICE_NAME wins). */
  private static final Map<String, String> TRACED = Map.of(
      "worker", "reelay-worker", "status-server", "reelay-status", "up", "reelay", "demo", "reelay");

  public static void main(String[] args) {
    // before the first ConfigFactory.load() of any part (it caches what it loaded); an explicit
    // -Dconfig.override_with_env_vars=false is kept
    if (System.getProperty(OVERRIDE_WITH_ENV) == null) {
      System.setProperty(OVERRIDE_WITH_ENV, "true");
    }
    ConfigFactory.invalidateCaches();
    String role = args.length == 0 ? "" : args[0];
    if (TRACED.containsKey(role)) {
      try {
        Telemetry.install(TRACED.get(role));
      } catch (IllegalArgumentException e) {
        System.err.println("reelay " + role + ": " + e.getMessage());
        System.exit(2);
      }
    }
    int code =
        new CommandLine(new Main())
            .setCaseInsensitiveEnumValuesAllowed(true)
            // a failure is one line that says what to do; the stack trace goes to the log file
            .setExecutionExceptionHandler(
                (e, cmd, parsed) -> {
                  LoggerFactory.getLogger(Main.class).error("command failed", e);
                  System.err.println("reelay " + cmd.getCommandName() + ": " + e.getMessage());
                  return 1;
                })
            .execute(args);
    System.exit(code);
  }
}
