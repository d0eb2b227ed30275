package io.reelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The configuration reference cannot fall behind the code: every key of every module's
 * reference.conf is in docs/configuration.md, every environment variable Reelay reads is in the
 * README's table, and the generated tables are what the reference.conf files say today.
 *
 * <p>After changing a reference.conf, rewrite the tables with
 * {@code ./mvnw -q -pl modules/cli -am verify -Dtest=ConfigReferenceTest -Dsurefire.failIfNoSpecifiedTests=false -Dreelay.config-doc=write}.
 */
class ConfigReferenceTest {

  private static final String WRITE = "reelay.config-doc";
  private static final Path ROOT = ConfigReference.repoRoot();
  private static final Path DOC = ROOT.resolve("docs/configuration.md");

  /** Variables read from the environment by main code that are not Reelay's to document. */
  private static final Set<String> NOT_OURS = Set.of("TERM");

  @Test
  void everyModuleHasAReferenceConfAndItsKeysAreRead() {
    List<Path> files = ConfigReference.referenceFiles(ROOT);
    assertThat(files.stream().map(ConfigReference::module))
        .contains("protocol", "nemo-client", "nemo-sim", "worker", "status", "cli");
    assertThat(ConfigReference.leafPaths(files.get(0))).contains("reelay.kafka.bootstrap-servers");
  }

  @Test
  void everyKeyOfEveryReferenceConfIsInDocsConfiguration() throws IOException {
    String doc = Files.readString(DOC);
    List<String> missing = new ArrayList<>();
    for (Path file : ConfigReference.referenceFiles(ROOT)) {
      for (String key : ConfigReference.leafPaths(file)) {
        if (ConfigReference.ours(key) && !doc.contains("`" + key + "`")) {
          missing.add(key + " (" + ROOT.relativize(file) + ")");
        }
      }
    }
    assertThat(missing).as("keys missing from docs/configuration.md; " + howToWrite()).isEmpty();
  }

  @Test
  void everyVariableOfAReferenceConfOrReadByMainCodeIsInTheReadmesTable() throws IOException {
    Set<String> table = readmeTableVariables();
    Set<String> read = new TreeSet<>();
    for (Path file : ConfigReference.referenceFiles(ROOT)) {
      read.addAll(ConfigReference.namedVariables(file));
    }
    read.addAll(ConfigReference.variablesReadByMainCode(ROOT));
    read.removeAll(NOT_OURS);
    assertThat(read).contains("REELAY_KAFKA_BOOTSTRAP", "REELAY_KAFKA_DATA", "NEMO_BASE_URL");
    assertThat(read.stream().filter(v -> !table.contains(v)).toList())
        .as("variables missing from the variables table of README.md").isEmpty();
  }

  @Test
  void theGeneratedTablesAreWhatTheReferenceConfFilesSay() throws IOException {
    String doc = Files.readString(DOC);
    int begin = doc.indexOf(ConfigReference.BEGIN);
    int end = doc.indexOf(ConfigReference.END);
    assertThat(begin).as("docs/configuration.md has the generated section's markers").isNotNegative();
    assertThat(end).isGreaterThan(begin);
    String current = doc.substring(begin, end + ConfigReference.END.length() + 1);
    String generated = ConfigReference.markdown(ROOT);
    if ("write".equals(System.getProperty(WRITE)) && !current.equals(generated)) {
      Files.writeString(DOC, doc.substring(0, begin) + generated + doc.substring(end + ConfigReference.END.length() + 1));
      return;
    }
    assertThat(current).as("docs/configuration.md is out of date; " + howToWrite()).isEqualTo(generated);
  }

  @Test
  void aConfigForceVariableIsSpelledAsTypesafeConfigReadsIt() {
    assertThat(ConfigReference.forceVariable("reelay.worker.max-active-requests"))
        .isEqualTo("CONFIG_FORCE_reelay_worker_max__active__requests");
    assertThat(ConfigReference.forceVariable("nemo-sim.faults.rate-limit-429")).isEqualTo("CONFIG_FORCE_nemo__sim_faults_rate__limit__429");
    assertThat(ConfigReference.forceVariable("a.b_c")).isEqualTo("CONFIG_FORCE_a_b___c");
    assertThat(ConfigReference.forceVariable("reelay.worker.kafka-consumer.\"group.protocol\"")).isNull();
  }

  private static String howToWrite() {
    return "rewrite it with ./mvnw -q -pl modules/cli -am verify -Dtest=ConfigReferenceTest "
        + "-Dsurefire.failIfNoSpecifiedTests=false -D" + WRITE + "=write";
  }

  /** The variables named in the first column of the README's table rows. */
  private static Set<String> readmeTableVariables() throws IOException {
    Set<String> vars = new TreeSet<>();
    Pattern name = Pattern.compile("`([A-Z][A-Z0-9_]+)`");
    for (String line : Files.readAllLines(ROOT.resolve("README.md"))) {
      if (line.startsWith("| `")) {
        String first = line.substring(1, line.indexOf('|', 1));
        Matcher m = name.matcher(first);
        while (m.find()) {
          vars.add(m.group(1));
        }
      }
    }
    return vars;
  }
}
