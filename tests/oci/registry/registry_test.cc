// The registry client against a real registry (Debian's docker-registry on
// loopback), real skopeo, and a scripted server for failures on demand.
#include "oci/registry/registry.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <mutex>
#include <random>

#include "oci/registry/auth_file.h"
#include "oci/error.h"
#include "tests/oci/registry/registry_fixture.h"

namespace kiln::oci {
namespace {

namespace fs = std::filesystem;

using kiln::testing::HaveTool;
using kiln::testing::LocalRegistry;
using kiln::testing::ScriptedServer;
using kiln::testing::Shell;

std::string RandomBytes(const std::string& seed, size_t n) {
  std::seed_seq seq(seed.begin(), seed.end());
  std::mt19937_64 rng(seq);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Real gzip streams (of random bytes), so that tools which sniff compression
// (skopeo) copy layers unchanged.
std::string Gzip(const std::string& data) {
  char tmpl[] = "/tmp/kiln-gzip.XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("mkstemp");
  ::close(fd);
  kiln::testing::WriteText(tmpl, data);
  std::string out;
  int rc = Shell(std::string("gzip -n -c ") + tmpl + " 2>/dev/null", &out);
  ::unlink(tmpl);
  if (rc != 0) throw std::runtime_error("gzip failed");
  return out;
}

// A small image made with the Store API: config + layers of the given sizes.
Descriptor MakeImage(Store& store, const std::string& seed, std::vector<size_t> layer_sizes, bool gzip = false) {
  Manifest m;
  ImageConfig cfg;
  cfg.config.cmd = std::vector<std::string>{"sh"};
  for (size_t i = 0; i < layer_sizes.size(); ++i) {
    std::string data = RandomBytes(seed + std::to_string(i), layer_sizes[i]);
    Descriptor l = store.PutBlob(gzip ? Gzip(data) : data, media::kOciLayerGzip);
    m.layers.push_back(l);
    cfg.diff_ids.push_back(l.digest);
    cfg.history.push_back(History{"", "layer " + std::to_string(i), "", "", false});
  }
  cfg.config.labels["seed"] = seed;
  m.config = store.PutBlob(ToJson(cfg), media::kOciConfig);
  return store.PutBlob(ToJson(m), media::kOciManifest);
}

class RegistryTest : public kiln::testing::RegistryFixture {
 protected:
  Store& NewStore(const std::string& name) {
    stores_.push_back(std::make_unique<Store>(dir_ / name));
    return *stores_.back();
  }
  void TearDown() override {
    stores_.clear();
    RegistryFixture::TearDown();
  }
  std::vector<std::unique_ptr<Store>> stores_;
};

TEST_F(RegistryTest, PushPullRoundTripAndSkips) {
  LocalRegistry& reg = StartRegistry();
  Store& src = NewStore("src");
  Descriptor image = MakeImage(src, "roundtrip", {1000, 30000});
  RegistryClient client;
  auto ref = Reference::Parse(reg.host() + "/kiln/app:v1");

  TransferStats push;
  EXPECT_EQ(client.Push(src, image, ref, &push), image.digest);
  EXPECT_EQ(push.blobs_uploaded, 3);
  EXPECT_EQ(push.blobs_skipped, 0);
  EXPECT_EQ(push.bytes, 31000 + ParseManifest(src.ReadBlob(image.digest)).config.size);

  auto head = client.HeadManifest(ref);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->digest, image.digest);
  EXPECT_EQ(head->media_type, media::kOciManifest);
  EXPECT_FALSE(client.HeadManifest(Reference::Parse(reg.host() + "/kiln/app:nope")));

  Store& dst = NewStore("dst");
  TransferStats pull;
  Descriptor got = client.Pull(ref, dst, Platform{}, &pull);
  EXPECT_EQ(got.digest, image.digest);
  EXPECT_EQ(pull.blobs_downloaded, 3);
  for (const auto& l : ParseManifest(src.ReadBlob(image.digest)).layers) {
    EXPECT_EQ(dst.ReadBlob(l.digest, true), src.ReadBlob(l.digest));
  }
  EXPECT_EQ(dst.ReadBlob(image.digest, true), src.ReadBlob(image.digest));

  // Pulling again downloads nothing; the access log agrees.
  int blob_gets = reg.CountRequests("GET", "/blobs/");
  TransferStats again;
  client.Pull(ref, dst, Platform{}, &again);
  EXPECT_EQ(again.blobs_downloaded, 0);
  EXPECT_EQ(again.blobs_skipped, 3);
  EXPECT_EQ(reg.CountRequests("GET", "/blobs/"), blob_gets);

  // Pull by digest works too.
  Reference by_digest = Reference::Parse(reg.host() + "/kiln/app@" + image.digest.str());
  EXPECT_EQ(client.Pull(by_digest, NewStore("dst2"), Platform{}, nullptr).digest, image.digest);
}

TEST_F(RegistryTest, RePushUploadsNoBlob) {
  LocalRegistry& reg = StartRegistry();
  Store& store = NewStore("s");
  Descriptor image = MakeImage(store, "repush", {5000, 6000});
  RegistryClient client;
  auto ref = Reference::Parse(reg.host() + "/kiln/repush:1");
  TransferStats first;
  client.Push(store, image, ref, &first);
  EXPECT_EQ(first.blobs_uploaded, 3);
  int uploads = reg.CountRequests("POST", "/blobs/uploads/");
  int blob_puts = reg.CountRequests("PUT", "/blobs/uploads/");
  EXPECT_EQ(uploads, 3);
  EXPECT_EQ(blob_puts, 3);

  TransferStats second;
  client.Push(store, image, Reference::Parse(reg.host() + "/kiln/repush:2"), &second);
  EXPECT_EQ(second.blobs_uploaded, 0);
  EXPECT_EQ(second.blobs_skipped, 3);
  EXPECT_EQ(second.bytes, 0);
  EXPECT_EQ(reg.CountRequests("POST", "/blobs/uploads/"), uploads);
  EXPECT_EQ(reg.CountRequests("PUT", "/blobs/uploads/"), blob_puts);
  EXPECT_EQ(reg.CountRequests("PUT", "/manifests/"), 2);
  // A new tag for a manifest that is there asks nothing about its blobs.
  EXPECT_EQ(reg.CountRequests("HEAD", "/blobs/"), 3);

  // The same tag again: one HEAD of the manifest, nothing else.
  const int heads = reg.CountRequests("HEAD"), gets = reg.CountRequests("GET");
  TransferStats third;
  EXPECT_EQ(client.Push(store, image, Reference::Parse(reg.host() + "/kiln/repush:2"), &third), image.digest);
  EXPECT_EQ(third.blobs_skipped, 3);
  EXPECT_EQ(reg.CountRequests("HEAD"), heads + 1);
  EXPECT_EQ(reg.CountRequests("HEAD", "/manifests/2"), 2);  // the first push of :2 asked too
  EXPECT_EQ(reg.CountRequests("GET"), gets);
  EXPECT_EQ(reg.CountRequests("PUT", "/manifests/"), 2);
}

TEST_F(RegistryTest, CrossRepositoryMount) {
  LocalRegistry& reg = StartRegistry();
  Store& store = NewStore("s");
  Descriptor image = MakeImage(store, "mount", {4000});
  RegistryClient client;
  client.Push(store, image, Reference::Parse(reg.host() + "/team/one:v1"), nullptr);
  TransferStats stats;
  client.Push(store, image, Reference::Parse(reg.host() + "/team/two:v1"), &stats);
  EXPECT_EQ(stats.blobs_mounted, 2);
  EXPECT_EQ(stats.blobs_uploaded, 0);
  EXPECT_EQ(reg.CountRequests("POST", "mount=sha256"), 2);
  EXPECT_NE(reg.Log().find("from=team%2Fone"), std::string::npos);
  // The mounted repository serves the image.
  EXPECT_EQ(client.Pull(Reference::Parse(reg.host() + "/team/two:v1"), NewStore("d"), Platform{}, nullptr).digest,
            image.digest);
}

TEST_F(RegistryTest, ChunkedUploadForLargeBlobs) {
  LocalRegistry& reg = StartRegistry();
  Store& store = NewStore("s");
  Descriptor image = MakeImage(store, "chunks", {200 * 1024, 100});
  RegistryOptions opts;
  opts.chunk_size = 64 * 1024;
  RegistryClient client(opts);
  auto ref = Reference::Parse(reg.host() + "/kiln/big:v1");
  client.Push(store, image, ref, nullptr);
  EXPECT_EQ(reg.CountRequests("PATCH", "/blobs/uploads/"), 4);  // 200 KiB in 64 KiB chunks
  Store& dst = NewStore("d");
  client.Pull(ref, dst, Platform{}, nullptr);
  auto big = ParseManifest(store.ReadBlob(image.digest)).layers[0];
  EXPECT_EQ(dst.ReadBlob(big.digest, true).size(), 200u * 1024);
}

TEST_F(RegistryTest, IndexResolvesToPlatformManifest) {
  LocalRegistry& reg = StartRegistry();
  Store& store = NewStore("s");
  Descriptor amd = MakeImage(store, "amd64", {100});
  Descriptor arm = MakeImage(store, "arm64", {200});
  amd.platform = Platform{"linux", "amd64", ""};
  arm.platform = Platform{"linux", "arm64", "v8"};
  Index idx;
  idx.manifests = {arm, amd};
  Descriptor index = store.PutBlob(ToJson(idx), media::kOciIndex);
  RegistryClient client;
  auto ref = Reference::Parse(reg.host() + "/kiln/multi:v1");
  EXPECT_EQ(client.Push(store, index, ref, nullptr), index.digest);

  Descriptor got = client.Pull(ref, NewStore("d1"), Platform{"linux", "arm64", ""}, nullptr);
  EXPECT_EQ(got.digest, arm.digest);
  EXPECT_EQ(client.Pull(ref, NewStore("d2"), Platform{"linux", "amd64", ""}, nullptr).digest, amd.digest);
  try {
    client.Pull(ref, NewStore("d3"), Platform{"linux", "s390x", ""}, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no manifest for platform linux/s390x"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("linux/arm64/v8"), std::string::npos) << e.what();
  }
}

TEST_F(RegistryTest, RegistryErrorsAreSurfaced) {
  LocalRegistry& reg = StartRegistry();
  Store& store = NewStore("s");
  Descriptor image = MakeImage(store, "errors", {100});
  std::vector<std::string> events;
  RegistryOptions opts;
  opts.progress = [&](const std::string& line) { events.push_back(line); };
  RegistryClient client(opts);
  auto ref = Reference::Parse(reg.host() + "/kiln/err:v1");
  try {
    // The layers were never pushed: the registry refuses the manifest.
    client.PutManifest(ref, store.ReadBlob(image.digest), media::kOciManifest);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("PUT manifest " + ref.str() + ": 400 MANIFEST_BLOB_UNKNOWN"), std::string::npos) << e.what();
  }
  // Not a damaged body: not sent again.
  EXPECT_TRUE(events.empty()) << events.front();
  try {
    client.Pull(Reference::Parse(reg.host() + "/kiln/absent:v1"), store, Platform{}, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pull " + reg.host() + "/kiln/absent:v1: GET manifest"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("404 MANIFEST_UNKNOWN"), std::string::npos) << e.what();
  }
}

TEST_F(RegistryTest, ReferrersFallBackToTagSchema) {
  LocalRegistry& reg = StartRegistry();
  Store& store = NewStore("s");
  Descriptor image = MakeImage(store, "subject", {100});
  RegistryClient client;
  auto repo = Reference::Parse(reg.host() + "/kiln/ref:v1");
  client.Push(store, image, repo, nullptr);
  EXPECT_TRUE(client.Referrers(repo, image.digest).manifests.empty());

  // An artifact pointing at the image, and the fallback tag listing it.
  Manifest sig;
  sig.artifact_type = "application/vnd.kiln.test";
  sig.config = store.PutBlob("{}", media::kOciEmpty);
  sig.layers = {store.PutBlob("signature", "application/octet-stream")};
  sig.subject = image;
  Descriptor sig_desc = store.PutBlob(ToJson(sig), media::kOciManifest);
  Reference by_digest = repo;
  by_digest.tag.clear();
  by_digest.digest = sig_desc.digest.str();
  client.Push(store, sig_desc, by_digest, nullptr);
  sig_desc.artifact_type = sig.artifact_type;
  Index listing;
  listing.manifests = {sig_desc};
  Reference tag = repo;
  tag.tag = "sha256-" + image.digest.hex;
  client.PutManifest(tag, ToJson(listing), media::kOciIndex);

  Index got = client.Referrers(repo, image.digest);
  ASSERT_EQ(got.manifests.size(), 1u);
  EXPECT_EQ(got.manifests[0].digest, sig_desc.digest);
  EXPECT_EQ(got.manifests[0].artifact_type, "application/vnd.kiln.test");
  EXPECT_GE(reg.CountRequests("GET", "/referrers/"), 1);  // the API was tried first
}

TEST_F(RegistryTest, BasicAuthOverTlsWithCertDir) {
  if (!HaveTool("openssl") || !HaveTool("htpasswd")) GTEST_SKIP() << "openssl or htpasswd not installed";
  LocalRegistry& reg = StartRegistry({"kiln", "s3cret", true});
  Store& store = NewStore("s");
  Descriptor image = MakeImage(store, "tls", {1000});
  auto ref = Reference::Parse(reg.host() + "/secure/app:v1");
  RegistryOptions opts;
  opts.cert_dirs = {reg.cert_dir().string()};
  opts.auth_file = (dir_ / "auth.json").string();
  opts.retries = 0;

  // Wrong password: Login refuses and writes nothing; a push says why.
  try {
    Login(reg.host(), "kiln", "wrong", opts);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("401"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(opts.auth_file));
  StoreCredentials(opts.auth_file, reg.host(), {"kiln", "wrong", ""});
  try {
    RegistryClient(opts).Push(store, image, ref, nullptr);
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("push " + ref.str() + ": "), std::string::npos) << msg;
    EXPECT_NE(msg.find(": 401"), std::string::npos) << msg;
    EXPECT_NE(msg.find("were rejected"), std::string::npos) << msg;
  }

  Login(reg.host(), "kiln", "s3cret", opts);
  RegistryClient client(opts);
  EXPECT_EQ(client.Push(store, image, ref, nullptr), image.digest);
  EXPECT_EQ(client.Pull(ref, NewStore("d"), Platform{}, nullptr).digest, image.digest);

  // Without the CA the certificate is refused (no silent downgrade to HTTP)...
  RegistryOptions no_ca = opts;
  no_ca.cert_dirs = {};
  try {
    RegistryClient(no_ca).HeadManifest(ref);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("certificate"), std::string::npos) << e.what();
  }
  // ...unless verification is explicitly off.
  no_ca.tls_verify = false;
  EXPECT_TRUE(RegistryClient(no_ca).HeadManifest(ref));
}

// A registry that wants a client certificate gets the certs.d pair
// (HOST/client.cert + client.key, as docker and containers/image read it).
TEST_F(RegistryTest, ClientCertificateFromCertDir) {
  if (!HaveTool("openssl")) GTEST_SKIP() << "openssl not installed";
  testing::RegistryConfig cfg;
  cfg.tls = cfg.client_certs = true;
  LocalRegistry& reg = StartRegistry(cfg);
  Store& store = NewStore("s");
  Descriptor image = MakeImage(store, "mtls", {1000});
  auto ref = Reference::Parse(reg.host() + "/mtls/app:v1");
  RegistryOptions opts;
  opts.cert_dirs = {reg.cert_dir().string()};
  opts.retries = 0;
  EXPECT_EQ(RegistryClient(opts).Push(store, image, ref, nullptr), image.digest);
  // The same CA without the client pair: the registry ends the handshake.
  const fs::path ca_only = dir_ / "ca-only";
  fs::create_directories(ca_only / reg.host());
  fs::copy_file(reg.cert_dir() / reg.host() / "ca.crt", ca_only / reg.host() / "ca.crt");
  RegistryOptions no_client = opts;
  no_client.cert_dirs = {ca_only.string()};
  EXPECT_THROW(RegistryClient(no_client).HeadManifest(ref), Error);
}

TEST_F(RegistryTest, SkopeoReadsWhatKilnPushedAndKilnPullsWhatSkopeoPushed) {
  if (!HaveTool("skopeo")) GTEST_SKIP() << "skopeo not installed";
  LocalRegistry& reg = StartRegistry();
  Store& store = NewStore("s");
  Descriptor image = MakeImage(store, "skopeo", {1234, 5678});
  RegistryClient client;
  client.Push(store, image, Reference::Parse(reg.host() + "/kiln/app:v1"), nullptr);

  std::string out;
  ASSERT_EQ(Shell("skopeo inspect --tls-verify=false docker://" + reg.host() + "/kiln/app:v1", &out), 0) << out;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["Digest"], image.digest.str());
  EXPECT_EQ(j["Layers"].size(), 2u);
  EXPECT_EQ(j["Labels"]["seed"], "skopeo");

  // A hand-written OCI layout for skopeo to push (independent of kiln's exporters).
  Store& other = NewStore("other");
  Descriptor theirs = MakeImage(other, "from-skopeo", {777, 888}, /*gzip=*/true);
  fs::path layout = dir_ / "layout";
  fs::create_directories(layout / "blobs/sha256");
  kiln::testing::WriteText(layout / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  Descriptor tagged = theirs;
  tagged.annotations["org.opencontainers.image.ref.name"] = "v2";
  kiln::testing::WriteText(layout / "index.json",
                           R"({"schemaVersion":2,"manifests":[)" + DescriptorToJson(tagged) + "]}");
  Manifest m = ParseManifest(other.ReadBlob(theirs.digest));
  std::vector<Digest> all = {theirs.digest, m.config.digest};
  for (const auto& l : m.layers) all.push_back(l.digest);
  for (const auto& d : all) fs::copy_file(other.BlobPath(d), layout / "blobs/sha256" / d.hex);
  ASSERT_EQ(Shell("skopeo copy --dest-tls-verify=false oci:" + layout.string() + ":v2 docker://" + reg.host() +
                      "/skopeo/img:v2",
                  &out),
            0)
      << out;

  Store& dst = NewStore("d");
  TransferStats stats;
  Descriptor got = client.Pull(Reference::Parse(reg.host() + "/skopeo/img:v2"), dst, Platform{}, &stats);
  EXPECT_EQ(got.digest, theirs.digest);  // skopeo kept the manifest byte for byte
  EXPECT_EQ(stats.blobs_downloaded, 3);
  for (const auto& d : all) EXPECT_TRUE(dst.HasBlob(d)) << d.str();
}

TEST_F(RegistryTest, UnreachableRegistryFailsClearlyWithinTimeout) {
  int port = kiln::testing::FreePort();  // nothing listens there
  RegistryOptions opts;
  opts.timeout = std::chrono::seconds(2);
  opts.retries = 1;
  RegistryClient client(opts);
  auto start = std::chrono::steady_clock::now();
  try {
    client.Pull(Reference::Parse("127.0.0.1:" + std::to_string(port) + "/x:y"), NewStore("s"), Platform{}, nullptr);
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("registry 127.0.0.1:" + std::to_string(port) + " unreachable"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Couldn't connect to server"), std::string::npos) << msg;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(RegistryTest, StalledServerTimesOut) {
  ScriptedServer server([](const std::string&, const std::string&) { return std::string(); });  // never answers
  RegistryOptions opts;
  opts.timeout = std::chrono::seconds(1);
  opts.retries = 0;
  RegistryClient client(opts);
  auto start = std::chrono::steady_clock::now();
  try {
    client.HeadManifest(Reference::Parse(server.host() + "/x:y"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("timeout 1s"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
}

TEST_F(RegistryTest, RetriesServiceUnavailable) {
  const std::string manifest = R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]})";
  std::atomic<int> manifest_requests{0};
  ScriptedServer server([&](const std::string& head, const std::string&) {
    if (head.starts_with("GET /v2/ ")) return ScriptedServer::Response(200, "OK", "{}");
    if (manifest_requests++ < 2) return ScriptedServer::Response(503, "Service Unavailable", "busy");
    return ScriptedServer::Response(200, "OK", manifest, {"Content-Type: application/vnd.oci.image.manifest.v1+json"});
  });
  std::vector<std::string> events;
  RegistryOptions opts;
  opts.progress = [&](const std::string& line) { events.push_back(line); };
  RegistryClient client(opts);
  Descriptor d;
  EXPECT_EQ(client.GetManifest(Reference::Parse(server.host() + "/x:y"), &d), manifest);
  EXPECT_EQ(manifest_requests, 3);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NE(events[0].find("retry 1 of GET manifest"), std::string::npos) << events[0];
  EXPECT_NE(events[0].find("503"), std::string::npos) << events[0];

  // With retries exhausted the last status is reported.
  manifest_requests = -10;
  RegistryOptions few;
  few.retries = 1;
  try {
    RegistryClient(few).GetManifest(Reference::Parse(server.host() + "/x:y"), nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("503: busy"), std::string::npos) << e.what();
  }
}

// 429 with Retry-After: the client waits what the registry asked, not its
// own back-off; a Retry-After beyond the retry time fails at once.
TEST_F(RegistryTest, HonoursRetryAfter) {
  const std::string manifest = R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]})";
  std::atomic<int> manifest_requests{0};
  std::atomic<int> wait_secs{1};
  ScriptedServer server([&](const std::string& head, const std::string&) {
    if (head.starts_with("GET /v2/ ")) return ScriptedServer::Response(200, "OK", "{}");
    if (manifest_requests++ == 0) {
      return ScriptedServer::Response(429, "Too Many Requests", "slow down",
                                      {"Retry-After: " + std::to_string(wait_secs.load())});
    }
    return ScriptedServer::Response(200, "OK", manifest, {"Content-Type: application/vnd.oci.image.manifest.v1+json"});
  });
  RegistryOptions opts;
  opts.retry_time = std::chrono::seconds(10);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(RegistryClient(opts).GetManifest(Reference::Parse(server.host() + "/x:y"), nullptr), manifest);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(1000));
  EXPECT_LT(took, std::chrono::milliseconds(3000));

  manifest_requests = 0;
  wait_secs = 30;
  start = std::chrono::steady_clock::now();
  try {
    RegistryClient(opts).GetManifest(Reference::Parse(server.host() + "/x:y"), nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("429"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("asked to wait 30s"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// A blob download cut short resumes with a Range request for the rest; the
// digest is verified over the whole.
TEST_F(RegistryTest, PullResumesWithRange) {
  const std::string config = "{}";
  std::string layer;
  for (int i = 0; i < 1000; ++i) layer += static_cast<char>('a' + i % 26);
  const Digest cd = Sha256Of(config), ld = Sha256Of(layer);
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      cd.str() + R"(","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" + ld.str() +
      R"(","size":1000}]})";
  std::atomic<int> layer_requests{0};
  std::string range_asked;
  std::mutex mu;
  ScriptedServer server([&](const std::string& head, const std::string&) {
    if (head.starts_with("GET /v2/ ")) return ScriptedServer::Response(200, "OK", "{}");
    if (head.find("/manifests/") != std::string::npos) {
      return ScriptedServer::Response(200, "OK", manifest, {"Content-Type: application/vnd.oci.image.manifest.v1+json"});
    }
    if (head.find(cd.str()) != std::string::npos) return ScriptedServer::Response(200, "OK", config);
    if (layer_requests++ == 0) {
      // The full length announced, 400 bytes sent, connection closed.
      return "HTTP/1.1 200 OK\r\nConnection: close\r\nAccept-Ranges: bytes\r\nContent-Length: 1000\r\n\r\n" +
             layer.substr(0, 400);
    }
    auto r = head.find("\r\nRange: ");
    std::lock_guard lock(mu);
    range_asked = r == std::string::npos ? "" : head.substr(r + 9, head.find("\r\n", r + 2) - r - 9);
    return ScriptedServer::Response(206, "Partial Content", layer.substr(400), {"Content-Range: bytes 400-999/1000"});
  });
  Store& store = NewStore("s");
  std::vector<std::string> events;
  RegistryOptions opts;
  opts.progress = [&](const std::string& line) { events.push_back(line); };
  Descriptor d = RegistryClient(opts).Pull(Reference::Parse(server.host() + "/x:y"), store, Platform{}, nullptr);
  EXPECT_EQ(d.digest, Sha256Of(manifest));
  EXPECT_EQ(store.ReadBlob(ld, true), layer);
  EXPECT_EQ(layer_requests, 2);
  EXPECT_EQ(range_asked, "bytes=400-");
  bool resumed = false;
  for (const auto& e : events) resumed = resumed || e.find("resuming at byte 400") != std::string::npos;
  EXPECT_TRUE(resumed);
}

// A registry host that does not resolve fails at once with the DNS error.
TEST_F(RegistryTest, UnresolvableHostFailsAtOnce) {
  RegistryOptions opts;
  std::vector<std::string> events;
  opts.progress = [&](const std::string& line) { events.push_back(line); };
  auto start = std::chrono::steady_clock::now();
  try {
    RegistryClient(opts).Pull(Reference::Parse("kiln-no-such-registry.invalid/x:y"), NewStore("s"), Platform{}, nullptr);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("DNS lookup failed"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_TRUE(events.empty()) << events.front();
}

}  // namespace
}  // namespace kiln::oci
