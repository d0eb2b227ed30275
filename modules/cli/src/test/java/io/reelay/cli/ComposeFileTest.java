package io.reelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * What can be checked of the images and the compose fleet without a container engine (docker/README.md):
 * every variable docker/compose.yml or the Dockerfile gives a Reelay container is one Reelay reads, so
 * a misspelt one cannot be silently ignored; every Reelay service runs a role the entrypoint knows;
 * the image has its HEALTHCHECK and runs as an unprivileged user.
 */
class ComposeFileTest {

  private static final Path ROOT = ConfigReference.repoRoot();
  private static final Path COMPOSE = ROOT.resolve("docker/compose.yml");
  private static final Path DOCKERFILE = ROOT.resolve("docker/Dockerfile");
  private static final List<Path> SCRIPTS = List.of(ROOT.resolve("docker/entrypoint.sh"), ROOT.resolve("docker/healthcheck.sh"));

  /** The broker's image; every other service runs the Reelay image. */
  private static final String KAFKA_IMAGE = "apache/kafka";

  /** A variable a script reads from the environment: {@code ${NAME:-default}}, {@code ${NAME:?}}, {@code ${NAME-}}. */
  private static final Pattern SCRIPT_VARIABLE = Pattern.compile("\\$\\{([A-Z][A-Z0-9_]*):?[-?=+]");
  /** The roles of the entrypoint: the alternatives of its {@code case} line that shifts the role away. */
  private static final Pattern ROLES = Pattern.compile("(?m)^\\s*([a-z][a-z-]*(?:\\s*\\|\\s*[a-z][a-z-]*)*)\\)\\s*shift\\s*;;");

  @Test
  void everyVariableGivenToAReelayServiceIsOneReelayReads() throws IOException {
    Set<String> read = variablesReelayReads();
    Map<String, Map<String, Object>> services = reelayServices();
    assertThat(services).containsKeys("sim", "worker", "status");
    List<String> unknown = new ArrayList<>();
    services.forEach((name, service) -> environment(service).stream()
        .filter(v -> !readByReelay(v, read))
        .forEach(v -> unknown.add(name + ": " + v)));
    assertThat(unknown)
        .as("variables docker/compose.yml gives a Reelay service that no reference.conf, config/*.conf, main code "
            + "or docker/*.sh script reads (a misspelling is silently ignored)")
        .isEmpty();
  }

  @Test
  void everyVariableTheImageSetsIsOneReelayReads() throws IOException {
    Set<String> read = variablesReelayReads();
    List<String> set = new ArrayList<>();
    Matcher m = Pattern.compile("(?:^|\\s)([A-Za-z_][A-Za-z0-9_]*)=").matcher("");
    for (String env : instructions(finalStage(), "ENV")) {
      m.reset(env);
      while (m.find()) {
        set.add(m.group(1));
      }
    }
    assertThat(set).contains("REELAY_HOME", "REELAY_LOG_FORMAT");
    assertThat(set.stream().filter(v -> !readByReelay(v, read)).toList())
        .as("ENV of docker/Dockerfile that Reelay does not read").isEmpty();
  }

  @Test
  void everyReelayServiceRunsARoleTheEntrypointAndTheHealthcheckKnow() throws IOException {
    Set<String> roles = roles(SCRIPTS.get(0));
    assertThat(roles).contains("worker", "status-server", "sim", "kafka");
    String healthcheck = Files.readString(SCRIPTS.get(1));
    assertThat(roles.stream().filter(r -> !Pattern.compile("(?m)^\\s*" + Pattern.quote(r) + "\\)").matcher(healthcheck).find()).toList())
        .as("roles docker/healthcheck.sh has no check for").isEmpty();
    List<String> wrong = new ArrayList<>();
    reelayServices().forEach((name, service) -> {
      Object command = service.get("command");
      String role = command instanceof List<?> list && !list.isEmpty() ? String.valueOf(list.get(0))
          : command == null ? "" : command.toString().strip().split("\\s+")[0];
      if (!roles.contains(role)) {
        wrong.add(name + ": " + command);
      }
    });
    assertThat(wrong).as("Reelay services whose command is not a role of docker/entrypoint.sh " + roles).isEmpty();
    assertThat(reelayServices().values().stream().map(s -> s.get("image")).distinct().count())
        .as("one image for every role").isEqualTo(1);
  }

  @Test
  void theImageHasAHealthcheckAndRunsAsAnUnprivilegedUser() throws IOException {
    List<String> stage = finalStage();
    assertThat(instructions(stage, "HEALTHCHECK")).singleElement().asString()
        .doesNotContain("NONE").contains("healthcheck.sh");
    assertThat(instructions(stage, "ENTRYPOINT")).singleElement().asString().contains("entrypoint.sh");
    List<String> users = instructions(stage, "USER");
    assertThat(users).as("a USER in the runtime stage").isNotEmpty();
    String user = users.get(users.size() - 1).split(":")[0].strip();
    assertThat(user).isNotIn("root", "0");
    for (Path script : SCRIPTS) {
      assertThat(Files.isExecutable(script)).as(ROOT.relativize(script) + " is executable").isTrue();
    }
  }

  @Test
  void workersScaleAndTheSimulatorStaysOffTheHost() throws IOException {
    Map<String, Map<String, Object>> services = reelayServices();
    // --scale worker=N: N containers cannot share a name or a host port
    assertThat(services.get("worker")).doesNotContainKeys("container_name", "ports");
    // the simulator's /_sim admin API has no auth
    assertThat(services.get("sim")).doesNotContainKey("ports");
  }

  @Test
  void theBrokerImageIsTheKafkaVersionReelayIsBuiltWith() throws IOException {
    Matcher version = Pattern.compile("<kafka.version>([^<]+)</kafka.version>").matcher(Files.readString(ROOT.resolve("pom.xml")));
    assertThat(version.find()).isTrue();
    assertThat(services().get("kafka").get("image")).isEqualTo(KAFKA_IMAGE + ":" + version.group(1));
  }

  /** A variable is Reelay's if something reads it, or it belongs to the JVM or to OpenTelemetry's SDK. */
  private static boolean readByReelay(String variable, Set<String> read) {
    return read.contains(variable) || variable.startsWith("OTEL_") || variable.equals("JAVA_TOOL_OPTIONS");
  }

  /**
   * Every variable Reelay reads, gathered from the sources: the {@code ${?VAR}} of every module's
   * reference.conf and of config/*.conf; in main code, {@code System.getenv("VAR")} and every string
   * literal that is a whole REELAY_/NEMO_ name (some are read through a helper, as ConfigReferenceTest
   * says); and the {@code ${VAR:-…}} the docker/*.sh scripts read.
   */
  private static Set<String> variablesReelayReads() throws IOException {
    Set<String> vars = new TreeSet<>();
    for (Path conf : ConfigReference.referenceFiles(ROOT)) {
      vars.addAll(ConfigReference.namedVariables(conf));
    }
    try (Stream<Path> confs = Files.list(ROOT.resolve("config"))) {
      confs.filter(p -> p.toString().endsWith(".conf")).forEach(p -> vars.addAll(ConfigReference.namedVariables(p)));
    }
    vars.addAll(ConfigReference.variablesReadByMainCode(ROOT));
    for (Path script : SCRIPTS) {
      Matcher m = SCRIPT_VARIABLE.matcher(Files.readString(script));
      while (m.find()) {
        vars.add(m.group(1));
      }
    }
    assertThat(vars).as("gathered from the sources").contains("REELAY_KAFKA_BOOTSTRAP", "NEMO_BASE_URL", "REELAY_LOG_FORMAT");
    return vars;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Map<String, Object>> services() throws IOException {
    // merge keys (<<: *reelay) are resolved by SnakeYAML, as by compose
    Map<String, Object> file = new Yaml(new SafeConstructor(new LoaderOptions())).load(Files.readString(COMPOSE));
    return (Map<String, Map<String, Object>>) file.get("services");
  }

  private static Map<String, Map<String, Object>> reelayServices() throws IOException {
    Map<String, Map<String, Object>> reelay = new LinkedHashMap<>();
    services().forEach((name, service) -> {
      if (!String.valueOf(service.get("image")).startsWith(KAFKA_IMAGE)) {
        reelay.put(name, service);
      }
    });
    return reelay;
  }

  /** The names a service's {@code environment} sets, in its map form or its list form ({@code NAME=value}, {@code NAME}). */
  private static List<String> environment(Map<String, Object> service) {
    Object env = service.get("environment");
    if (env instanceof Map<?, ?> map) {
      return map.keySet().stream().map(String::valueOf).toList();
    }
    if (env instanceof List<?> list) {
      return list.stream().map(e -> String.valueOf(e).split("=", 2)[0]).toList();
    }
    return List.of();
  }

  private static Set<String> roles(Path entrypoint) throws IOException {
    Matcher m = ROLES.matcher(Files.readString(entrypoint));
    assertThat(m.find()).as("a `worker | … ) shift ;;` line in " + ROOT.relativize(entrypoint)).isTrue();
    Set<String> roles = new TreeSet<>();
    for (String r : m.group(1).split("\\|")) {
      roles.add(r.strip());
    }
    return roles;
  }

  /** The runtime stage of the Dockerfile (after its last FROM), one instruction a line, continuations joined. */
  private static List<String> finalStage() throws IOException {
    List<String> joined = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    for (String line : Files.readAllLines(DOCKERFILE)) {
      String t = line.strip();
      if (t.isEmpty() || t.startsWith("#")) {
        continue; // as docker does, also inside a continued instruction
      }
      if (t.endsWith("\\")) {
        current.append(t, 0, t.length() - 1).append(' ');
        continue;
      }
      joined.add(current.append(t).toString());
      current.setLength(0);
    }
    int from = 0;
    for (int i = 0; i < joined.size(); i++) {
      if (joined.get(i).toUpperCase().startsWith("FROM ")) {
        from = i;
      }
    }
    return joined.subList(from, joined.size());
  }

  /** The arguments of each {@code KEYWORD …} instruction of {@code stage}. */
  private static List<String> instructions(List<String> stage, String keyword) {
    return stage.stream()
        .filter(i -> i.toUpperCase().startsWith(keyword + " "))
        .map(i -> i.substring(keyword.length() + 1).strip())
        .toList();
  }
}
