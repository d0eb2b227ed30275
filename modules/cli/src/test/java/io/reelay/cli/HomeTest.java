package io.reelay.cli;

import static java.nio.file.attribute.PosixFilePermission.OWNER_READ;
import static java.nio.file.attribute.PosixFilePermission.OWNER_WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.typesafe.config.ConfigFactory;
import io.reelay.worker.StateCipher;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The secrets {@code reelay up} keeps in var/: owner-only files, and a state key that is never replaced. */
class HomeTest {

  @TempDir Path dir;

  private Home home() {
    return new Home(ConfigFactory.parseMap(Map.of("reelay.home", dir.toString())));
  }

  private static void assumePosix(Path p) {
    assumeTrue(p.getFileSystem().supportedFileAttributeViews().contains("posix"), "a POSIX file system");
  }

  @Test
  void theStateKeyIsCreatedOwnerOnlyAndKeptAcrossRuns() throws Exception {
    assumePosix(dir);
    Home home = home();
    String key = home.stateKey();
    assertThat(Files.getPosixFilePermissions(home.stateKeyFile())).containsExactlyInAnyOrder(OWNER_READ, OWNER_WRITE);
    assertThat(StateCipher.fromBase64(key)).isNotNull();
    assertThat(home().stateKey()).isEqualTo(key);
    assertThat(Files.readString(home.stateKeyFile()).trim()).isEqualTo(key);
  }

  @Test
  void anExistingStateKeyIsNeverWrittenOver() throws Exception {
    Home home = home();
    String theirs = StateCipher.newKey();
    Files.createDirectories(home.var());
    Files.writeString(home.stateKeyFile(), theirs + "\n");
    assertThat(home.stateKey()).isEqualTo(theirs);
    assertThat(Files.readString(home.stateKeyFile())).isEqualTo(theirs + "\n");
  }

  @Test
  void aNewApiKeyReplacesTheOldOneWholeAndOwnerOnly() throws Exception {
    assumePosix(dir);
    Home home = home();
    String first = home.writeNewApiKey();
    String second = home.writeNewApiKey();
    assertThat(second).isNotEqualTo(first).startsWith("rl_");
    assertThat(home.readApiKey()).contains(second);
    assertThat(Files.getPosixFilePermissions(home.apiKeyFile())).containsExactlyInAnyOrder(OWNER_READ, OWNER_WRITE);
    try (Stream<Path> files = Files.list(home.var())) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactly("api-key"); // no half-written file left
    }
  }
}
