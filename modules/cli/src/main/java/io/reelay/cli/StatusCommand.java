package io.reelay.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.protocol.Json;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code reelay status ID}: prints the request's latest status. */
@Command(name = "status", mixinStandardHelpOptions = true, description = "Print a request's latest status as JSON.")
final class StatusCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "ID", description = "The requestId printed by submit.")
  String requestId;

  @Override
  public Integer call() throws Exception {
    Config config = ConfigFactory.load();
    Optional<JsonNode> s = Cli.statusApi(config).status(requestId);
    if (s.isEmpty()) {
      System.err.println("reelay: no request " + requestId + " (not submitted, not yet seen, or another tenant's)");
      return 1;
    }
    System.out.println(Json.mapper().writerWithDefaultPrettyPrinter().writeValueAsString(s.get()));
    return 0;
  }
}
