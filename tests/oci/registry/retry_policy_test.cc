// The registry client's retry policy: what is retried, Retry-After, back-off
// bounds and the time budget.
#include "oci/registry/retry_policy.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>

#include "oci/error.h"
#include "oci/registry/http_client.h"

namespace kiln::oci {
namespace {

using std::chrono::milliseconds;

TEST(RetryPolicy, StatusClassification) {
  for (long s : {408L, 429L, 500L, 502L, 503L, 504L, 599L}) EXPECT_TRUE(IsRetryableStatus(s)) << s;
  for (long s : {200L, 201L, 301L, 400L, 401L, 403L, 404L, 405L, 409L, 416L, 501L, 505L}) {
    EXPECT_FALSE(IsRetryableStatus(s)) << s;
  }
}

TEST(RetryPolicy, TransportClassification) {
  for (CURLcode c : {CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_RECV_ERROR, CURLE_SEND_ERROR,
                     CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING, CURLE_SSL_CONNECT_ERROR}) {
    EXPECT_TRUE(IsRetryableCurlCode(c)) << c;
  }
  for (CURLcode c : {CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_PEER_FAILED_VERIFICATION,
                     CURLE_SSL_CACERT_BADFILE, CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL}) {
    EXPECT_FALSE(IsRetryableCurlCode(c)) << c;
  }
  EXPECT_TRUE(IsDnsFailure(CURLE_COULDNT_RESOLVE_HOST));
  EXPECT_FALSE(IsDnsFailure(CURLE_COULDNT_CONNECT));
}

// A host that does not resolve fails at once as a plain Error (not a
// TransportError, which the registry client would retry).
TEST(RetryPolicy, DnsFailureIsNotATransportError) {
  HttpClient client(TlsSettings{}, std::chrono::seconds(5));
  HttpRequest req;
  req.url = "http://kiln-does-not-exist.invalid/v2/";
  const auto start = std::chrono::steady_clock::now();
  try {
    client.Perform(req);
    FAIL() << "resolved a .invalid name";
  } catch (const TransportError& e) {
    FAIL() << "DNS failure classified as retryable: " << e.what();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("DNS lookup failed"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("kiln-does-not-exist.invalid"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(RetryPolicy, RetryAfterSeconds) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(ParseRetryAfter("1", now), milliseconds(1000));
  EXPECT_EQ(ParseRetryAfter(" 120 ", now), milliseconds(120000));
  EXPECT_EQ(ParseRetryAfter("0", now), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-1", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("1.5", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", now), std::nullopt);
}

TEST(RetryPolicy, RetryAfterHttpDate) {
  // 2015-10-21 07:28:00 UTC
  const auto at = std::chrono::system_clock::from_time_t(1445412480);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", at - std::chrono::seconds(30)), milliseconds(30000));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", at + std::chrono::seconds(5)), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00", at), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT junk", at), std::nullopt);
}

TEST(RetryPolicy, BackoffCeilingDoublesUpToTenSeconds) {
  EXPECT_EQ(RetryPolicy::Ceiling(0), milliseconds(200));
  EXPECT_EQ(RetryPolicy::Ceiling(1), milliseconds(400));
  EXPECT_EQ(RetryPolicy::Ceiling(5), milliseconds(6400));
  EXPECT_EQ(RetryPolicy::Ceiling(6), milliseconds(10000));
  EXPECT_EQ(RetryPolicy::Ceiling(1000), milliseconds(10000));
}

// Full jitter within [ceiling/2, ceiling], and not the same for every client.
TEST(RetryPolicy, DelaysAreJitteredWithinBounds) {
  bool differ = false;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    RetryPolicy a(milliseconds(3600000), 100, seed), b(milliseconds(3600000), 100, seed + 1000);
    for (int i = 0; i < 8; ++i) {
      auto d = a.NextDelay(milliseconds(0), std::nullopt);
      auto e = b.NextDelay(milliseconds(0), std::nullopt);
      ASSERT_TRUE(d && e);
      EXPECT_GE(*d, RetryPolicy::Ceiling(i) / 2);
      EXPECT_LE(*d, RetryPolicy::Ceiling(i));
      differ = differ || *d != *e;
    }
  }
  EXPECT_TRUE(differ);
}

TEST(RetryPolicy, RetryAfterReplacesTheBackoff) {
  RetryPolicy p(milliseconds(60000), 100, 1);
  EXPECT_EQ(p.NextDelay(milliseconds(0), milliseconds(3000)), milliseconds(3000));
  EXPECT_EQ(p.NextDelay(milliseconds(0), milliseconds(0)), milliseconds(0));
}

TEST(RetryPolicy, StopsAtTheBudget) {
  RetryPolicy p(milliseconds(1000), 100, 1);
  EXPECT_TRUE(p.NextDelay(milliseconds(500), std::nullopt));  // at most 200 ms: ends by 700 ms
  EXPECT_FALSE(p.NextDelay(milliseconds(999), milliseconds(2)));
  // A Retry-After beyond the budget fails now rather than sleeping past it.
  RetryPolicy q(milliseconds(5000), 100, 1);
  EXPECT_FALSE(q.NextDelay(milliseconds(0), milliseconds(6000)));
  EXPECT_EQ(q.retries_done(), 0);
}

TEST(RetryPolicy, StopsAtTheRetryCount) {
  RetryPolicy p(milliseconds(3600000), 2, 1);
  EXPECT_TRUE(p.NextDelay(milliseconds(0), std::nullopt));
  EXPECT_TRUE(p.NextDelay(milliseconds(0), std::nullopt));
  EXPECT_FALSE(p.NextDelay(milliseconds(0), std::nullopt));
  EXPECT_EQ(p.retries_done(), 2);
}

TEST(RetryPolicy, Durations) {
  EXPECT_EQ(ParseRetryDuration("90", "x"), milliseconds(90000));
  EXPECT_EQ(ParseRetryDuration("90s", "x"), milliseconds(90000));
  EXPECT_EQ(ParseRetryDuration("1500ms", "x"), milliseconds(1500));
  EXPECT_EQ(ParseRetryDuration("2m", "x"), milliseconds(120000));
  EXPECT_EQ(ParseRetryDuration("0", "x"), milliseconds(0));
  for (const char* bad : {"", "s", "-5", "1h", "ten", "1.5s"}) {
    try {
      ParseRetryDuration(bad, "KILN_REGISTRY_RETRY_TIME");
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("KILN_REGISTRY_RETRY_TIME"), std::string::npos) << e.what();
    }
  }
}

TEST(RetryPolicy, EnvironmentSetsTheDefaults) {
  ::setenv("KILN_REGISTRY_RETRY_TIME", "7s", 1);
  ::setenv("KILN_REGISTRY_TIMEOUT", "3", 1);
  ::setenv("KILN_REGISTRY_CHUNK_SIZE", "65536", 1);
  EXPECT_EQ(DefaultRetryTime(), milliseconds(7000));
  EXPECT_EQ(DefaultStallTimeout(), std::chrono::seconds(3));
  EXPECT_EQ(DefaultChunkSize(), 65536);
  ::setenv("KILN_REGISTRY_RETRY_TIME", "forever", 1);
  EXPECT_THROW(DefaultRetryTime(), Error);
  ::setenv("KILN_REGISTRY_TIMEOUT", "500ms", 1);
  EXPECT_THROW(DefaultStallTimeout(), Error);
  ::setenv("KILN_REGISTRY_CHUNK_SIZE", "12", 1);
  EXPECT_THROW(DefaultChunkSize(), Error);
  ::unsetenv("KILN_REGISTRY_RETRY_TIME");
  ::unsetenv("KILN_REGISTRY_TIMEOUT");
  ::unsetenv("KILN_REGISTRY_CHUNK_SIZE");
  EXPECT_EQ(DefaultRetryTime(), milliseconds(60000));
  EXPECT_EQ(DefaultStallTimeout(), std::chrono::seconds(60));
  EXPECT_EQ(DefaultChunkSize(), 8 << 20);
}

}  // namespace
}  // namespace kiln::oci
