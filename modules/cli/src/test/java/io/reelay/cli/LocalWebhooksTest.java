package io.reelay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.status.WebhookSettings;
import org.junit.jupiter.api.Test;

/**
 * {@code reelay up} runs on the user's machine: its webhooks may go to loopback and go out unsigned,
 * unless the user set either setting, which then stays as set.
 */
class LocalWebhooksTest {

  private static final Config DEFAULTS = ConfigFactory.defaultReference();

  @Test
  void upAllowsLoopbackAndUnsignedWebhooksByDefault() {
    LocalStack.LocalWebhooks local = LocalStack.localWebhooks(DEFAULTS);
    assertThat(local.note()).contains("127.0.0.1/32,::1/128").contains("unsigned").contains("REELAY_WEBHOOK_ALLOW");
    WebhookSettings s = WebhookSettings.from(local.config().getConfig("reelay.webhooks"));
    assertThat(s.allowUnsigned()).isTrue();
    assertThat(s.submitProblem("default", "http://127.0.0.1:9000/hook")).isNull();
    assertThat(s.submitProblem("default", "http://[::1]:9000/hook")).isNull();
    assertThat(s.submitProblem("default", "http://10.0.0.1/hook")).as("only loopback").startsWith("callbackUrl is refused");
  }

  @Test
  void whatTheUserSetStays() {
    Config allow = ConfigFactory.parseString("reelay.webhooks.allow = \"10.0.0.0/8\"").withFallback(DEFAULTS);
    LocalStack.LocalWebhooks one = LocalStack.localWebhooks(allow);
    assertThat(one.config().getString("reelay.webhooks.allow")).isEqualTo("10.0.0.0/8");
    assertThat(one.config().getBoolean("reelay.webhooks.allow-unsigned")).isTrue();
    assertThat(one.note()).doesNotContain("loopback").contains("unsigned");

    Config both = ConfigFactory.parseString("reelay.webhooks { allow = \"\", allow-unsigned = false }").withFallback(DEFAULTS);
    LocalStack.LocalWebhooks none = LocalStack.localWebhooks(both);
    assertThat(none.note()).isNull();
    assertThat(none.config().getString("reelay.webhooks.allow")).isEmpty();
    assertThat(none.config().getBoolean("reelay.webhooks.allow-unsigned")).isFalse();
  }
}
