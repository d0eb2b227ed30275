package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class StateCipherTest {

  private final StateCipher cipher = StateCipher.fromBase64(StateCipher.newKey());

  @Test
  void roundTripsAndNeverShowsThePlainToken() {
    String sealed = cipher.encrypt("nmv_usr_SECRET", "session-1");
    assertThat(sealed).startsWith("v1:").doesNotContain("SECRET");
    assertThat(cipher.decrypt(sealed, "session-1")).isEqualTo("nmv_usr_SECRET");
    assertThat(cipher.encrypt("nmv_usr_SECRET", "session-1")).isNotEqualTo(sealed); // fresh IV each time
  }

  @Test
  void anotherSessionOrAnotherKeyCannotDecrypt() {
    String sealed = cipher.encrypt("nmv_usr_SECRET", "session-1");
    assertThatThrownBy(() -> cipher.decrypt(sealed, "session-2")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> StateCipher.fromBase64(StateCipher.newKey()).decrypt(sealed, "session-1"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("REELAY_STATE_KEY");
    assertThatThrownBy(() -> StateCipher.fromBase64("c2hvcnQ=")).hasMessageContaining("32 bytes");
  }
}
