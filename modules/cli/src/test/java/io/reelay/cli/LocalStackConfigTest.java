package io.reelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.protocol.Topics;
import io.reelay.status.StatusSettings;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The status service of a local stack accepts the key made for it and every key the user configured. */
class LocalStackConfigTest {

  @Test
  void configuredApiKeysAreKeptBesideTheStacksOwnKey() {
    assertThat(keys(null, "")).isEmpty();
    assertThat(keys(null, "ka=tenant-a,kb=tenant-b")).isEqualTo(Map.of("ka", "tenant-a", "kb", "tenant-b"));
    assertThat(keys("made", "")).isEqualTo(Map.of("made", "default"));
    assertThat(keys("made", "ka=tenant-a")).isEqualTo(Map.of("made", "default", "ka", "tenant-a"));
  }

  private static Map<String, String> keys(String made, String configured) {
    Config base = ConfigFactory.parseMap(Map.of("reelay.status.api-keys", configured)).withFallback(ConfigFactory.load());
    LocalStack.Options o = new LocalStack.Options(null, 0, "127.0.0.1:9", 0, 0, 1, 0.01, made, Topics.withPrefix("t"), 1);
    Config c = LocalStack.embeddedConfig(base, o, "127.0.0.1:9");
    return StatusSettings.from(c.getConfig("reelay.status")).apiKeys();
  }
}
