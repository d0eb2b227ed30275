package io.reelay.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.reelay.protocol.RequestValidation;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The destination policy alone: which addresses a webhook may go to, for IPv4, IPv6 and IPv6 forms
 * that embed an IPv4 address; the allow list (CIDRs, addresses, host names) and its mistakes; URL
 * literals as submit sees them; and the resolver's answer for a name.
 */
class WebhookTargetsTest {

  private static final WebhookTargets STRICT = WebhookTargets.strict();

  @ParameterizedTest(name = "{0} is refused as {1}")
  @CsvSource({
      "127.0.0.1, loopback",
      "127.255.255.254, loopback",
      "10.0.0.1, private",
      "10.255.255.255, private",
      "172.16.0.1, private",
      "172.31.255.255, private",
      "192.168.1.1, private",
      "169.254.169.254, link-local",
      "169.254.0.1, link-local",
      "100.64.0.1, carrier-grade NAT",
      "100.127.255.255, carrier-grade NAT",
      "0.0.0.0, unspecified",
      "0.1.2.3, unspecified",
      "224.0.0.1, multicast",
      "239.255.255.255, multicast",
      "255.255.255.255, broadcast",
      "240.0.0.1, reserved",
  })
  void internalIpv4AddressesAreRefused(String address, String kind) throws Exception {
    assertThat(STRICT.refusal(InetAddress.getByName(address))).startsWith(address + " is ").contains(kind);
  }

  @ParameterizedTest(name = "{0} is refused as {1}")
  @CsvSource({
      "::, unspecified",
      "::1, loopback",
      "fe80::1, link-local",
      "febf:ffff::1, link-local",
      "fec0::1, site-local",
      "fc00::1, unique-local",
      "fd00:ec2::254, unique-local",
      "ff02::1, multicast",
      "ff0e::1, multicast",
      "100::1, discard-only",
      "64:ff9b:1::1, local-use NAT64",
      // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embedding a refused IPv4 address
      "::127.0.0.1, loopback",
      "::10.0.0.1, private",
      "64:ff9b::7f00:1, loopback",
      "64:ff9b::a9fe:a9fe, link-local",
      "64:ff9b::c0a8:101, private",
      "2002:7f00:1::1, loopback",
      "2002:a9fe:a9fe::1, link-local",
      "2002:a00:1::, private",
  })
  void internalIpv6AddressesAreRefused(String address, String kind) throws Exception {
    InetAddress a = InetAddress.getByName(address);
    assertThat(a).isInstanceOf(Inet6Address.class);
    assertThat(STRICT.refusal(a)).contains(kind);
  }

  @ParameterizedTest(name = "::ffff:{0} is refused as {1}")
  @CsvSource({
      "127.0.0.1, loopback",
      "169.254.169.254, link-local",
      "10.1.2.3, private",
      "192.168.0.1, private",
      "100.64.0.1, carrier-grade NAT",
      "0.0.0.0, unspecified",
      "224.0.0.1, multicast",
  })
  void ipv4MappedAddressesAreJudgedByTheirIpv4Address(String v4, String kind) throws Exception {
    // Java hands ::ffff:a.b.c.d over as the IPv4 address; an Inet6Address can still carry the mapped bytes
    assertThat(STRICT.refusal(InetAddress.getByName("::ffff:" + v4))).contains(kind);
    assertThat(STRICT.refusal(mapped(v4))).contains("IPv4-mapped").contains(kind);
  }

  @ParameterizedTest
  @ValueSource(strings = {"8.8.8.8", "1.1.1.1", "93.184.216.34", "11.0.0.1", "172.15.255.255", "172.32.0.1",
      "100.63.255.255", "100.128.0.1", "169.253.255.255", "192.169.0.1", "223.255.255.255", "126.255.255.255",
      "2001:4860:4860::8888", "2606:4700:4700::1111", "2a00:1450:4001:81c::200e", "64:ff9b::808:808",
      "2002:808:808::1", "::8.8.8.8", "::ffff:8.8.8.8"})
  void publicAddressesAreAllowed(String address) throws Exception {
    assertThat(STRICT.refusal(InetAddress.getByName(address))).isNull();
  }

  @Test
  void publicMappedAddressesAreAllowed() throws Exception {
    assertThat(STRICT.refusal(mapped("8.8.8.8"))).isNull();
  }

  @Test
  void theAllowListCoversItsCidrsAddressesAndNamesAndNothingElse() throws Exception {
    WebhookTargets t = WebhookTargets.parse(" 127.0.0.1/32, ::1/128,10.20.1.1/16,, 192.168.5.5, fd00::/8, Hooks.Internal. ");
    assertThat(t.refusal(InetAddress.getByName("127.0.0.1"))).isNull();
    assertThat(t.refusal(mapped("127.0.0.1"))).as("the IPv4-mapped form of an allowed address").isNull();
    assertThat(t.refusal(InetAddress.getByName("127.0.0.2"))).contains("loopback");
    assertThat(t.refusal(InetAddress.getByName("::1"))).isNull();
    assertThat(t.refusal(InetAddress.getByName("10.20.99.1"))).as("the prefix's host bits are ignored").isNull();
    assertThat(t.refusal(InetAddress.getByName("10.21.0.1"))).contains("private");
    assertThat(t.refusal(InetAddress.getByName("192.168.5.5"))).as("a bare address is one address").isNull();
    assertThat(t.refusal(InetAddress.getByName("192.168.5.6"))).contains("private");
    assertThat(t.refusal(InetAddress.getByName("fd12:3456::1"))).isNull();
    assertThat(t.refusal(InetAddress.getByName("fc00::1"))).contains("unique-local");
    assertThat(t.refusal(InetAddress.getByName("169.254.169.254"))).contains("link-local");
    assertThat(t.allowsName("hooks.internal")).isTrue();
    assertThat(t.allowsName("HOOKS.internal.")).isTrue();
    assertThat(t.allowsName("other.internal")).isFalse();
    assertThat(t.allowsName("internal")).isFalse();
    assertThat(WebhookTargets.parse("").refusal(InetAddress.getByName("127.0.0.1"))).contains("loopback");
    assertThat(WebhookTargets.parse(java.util.List.of("0.0.0.0/0")).refusal(InetAddress.getByName("10.0.0.1")))
        .as("everything, if the operator insists").isNull();
  }

  @ParameterizedTest
  @ValueSource(strings = {"10.0.0.0/33", "::1/129", "10.0.0/8", "10.0.0", "300.1.1.1", "1.2.3.4.5", "10.0.0.0/",
      "10.0.0.0/abc", "*.example.com", "http://example.com", "a b", "fe80::1%eth0", ":::1", "::ffff:10.0.0.0/64",
      "exa$mple.com", "-bad.example.com"})
  void aBadAllowEntryIsAnErrorNamingIt(String entry) {
    assertThatThrownBy(() -> WebhookTargets.parse("127.0.0.1/32," + entry))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("reelay.webhooks.allow: entry '" + entry.trim() + "'");
  }

  @Test
  void aUrlWhoseHostIsARefusedAddressLiteralIsRefusedWithoutALookup() {
    assertThat(STRICT.literalRefusal("http://127.0.0.1:8090/_sim/reset")).contains("127.0.0.1").contains("loopback");
    assertThat(STRICT.literalRefusal("http://[::1]/")).contains("loopback");
    assertThat(STRICT.literalRefusal("http://169.254.169.254/latest/meta-data/")).contains("link-local");
    assertThat(STRICT.literalRefusal("https://10.1.2.3:8443/hook?x=1")).contains("private");
    assertThat(STRICT.literalRefusal("http://[::ffff:127.0.0.1]:80/")).contains("loopback");
    assertThat(STRICT.literalRefusal("http://[::ffff:a9fe:a9fe]/")).contains("link-local");
    assertThat(STRICT.literalRefusal("http://[64:ff9b::a9fe:a9fe]/")).contains("link-local");
    assertThat(STRICT.literalRefusal("http://[fd00:ec2::254]/")).contains("unique-local");
    // numeric forms the resolver reads as addresses
    assertThat(STRICT.literalRefusal("http://2130706433/")).contains("127.0.0.1");
    assertThat(RequestValidation.callbackProblem("http://127.1/")).as("no valid host for java.net.URI: refused earlier").isNotNull();
    assertThat(STRICT.literalRefusal("http://0/")).contains("unspecified");
    // not refused here: names (looked up at delivery), public addresses, what is no URL
    assertThat(STRICT.literalRefusal("http://localhost:8090/")).isNull();
    assertThat(STRICT.literalRefusal("https://example.com/hook")).isNull();
    assertThat(STRICT.literalRefusal("https://8.8.8.8/hook")).isNull();
    assertThat(STRICT.literalRefusal("https://[2001:4860:4860::8888]/hook")).isNull();
    assertThat(STRICT.literalRefusal("http://999.1.1.1/")).isNull();
    assertThat(STRICT.literalRefusal("not a url")).isNull();
    assertThat(WebhookTargets.parse("127.0.0.1/32").literalRefusal("http://127.0.0.1:8090/")).isNull();
    assertThat(WebhookTargets.parse("127.0.0.1/32").literalRefusal("http://127.0.0.2:8090/")).contains("loopback");
  }

  @Test
  void javaReadsNumericHostsAsTheseAddresses() throws Exception {
    // the same answers as InetAddress itself, without its fallback to a DNS lookup
    for (String s : new String[] {"127.0.0.1", "127.1", "127.0.1", "2130706433", "0", "10.1", "255.255.255.255"}) {
      assertThat(WebhookTargets.javaIpv4(s)).as(s).isEqualTo(InetAddress.getByName(s).getAddress());
    }
    for (String s : new String[] {"256.0.0.1", "1.2.3.4.5", "4294967296", "1..2", ".1", "1.", "", "1.256.1"}) {
      assertThat(WebhookTargets.javaIpv4(s)).as(s).isNull();
    }
  }

  @Test
  void theResolverRefusesANameWithARefusedAddressAndConnectsToTheCheckedOne() throws Exception {
    assertThatThrownBy(() -> STRICT.resolve("localhost", 8080))
        .isInstanceOf(WebhookTargets.Refused.class)
        .hasMessageContaining("localhost resolves to ")
        .hasMessageContaining("loopback")
        .hasMessageContaining("reelay.webhooks.allow");
    assertThatThrownBy(() -> STRICT.resolve("127.0.0.1", 80)).isInstanceOf(WebhookTargets.Refused.class)
        .hasMessageStartingWith("127.0.0.1 is a loopback address");
    assertThatThrownBy(() -> STRICT.resolve("[::1]", 80)).isInstanceOf(WebhookTargets.Refused.class);
    assertThatThrownBy(() -> STRICT.resolve("2130706433", 80)).isInstanceOf(WebhookTargets.Refused.class);

    InetSocketAddress byName = WebhookTargets.parse("localhost").resolve("LOCALHOST", 8080);
    assertThat(byName.isUnresolved()).isFalse();
    assertThat(byName.getAddress().isLoopbackAddress()).isTrue();
    assertThat(byName.getPort()).isEqualTo(8080);
    InetSocketAddress byCidr = WebhookTargets.parse("127.0.0.0/8,::1/128").resolve("localhost", 8080);
    assertThat(byCidr.getAddress().isLoopbackAddress()).isTrue();
    assertThat(STRICT.resolve("8.8.8.8", 443)).isEqualTo(new InetSocketAddress(InetAddress.getByName("8.8.8.8"), 443));
  }

  private static InetAddress mapped(String v4) throws Exception {
    byte[] b4 = InetAddress.getByName(v4).getAddress();
    byte[] b = new byte[16];
    b[10] = (byte) 0xff;
    b[11] = (byte) 0xff;
    System.arraycopy(b4, 0, b, 12, 4);
    InetAddress a = Inet6Address.getByAddress(null, b, -1);
    assertThat(a).isInstanceOf(Inet6Address.class);
    return a;
  }
}
