// Load generator for the Key Vault benchmark (bench/keyvault-unwrap.sh): against a running server it
// creates a resource group, a vault and an RSA-2048 key through the real HTTP APIs, wraps a 32-byte DEK
// with RSA-OAEP-256, then runs N concurrent keep-alive HTTPS clients calling unwrapkey for a fixed time
// and prints the rate and p50/p99 latency. Every unwrap result is checked against the DEK, so a fast
// wrong answer cannot count.
using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Ironclad.Benchmarks.KeyVault;

internal static class UnwrapLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        var endpointsPath = Argument(args, "--endpoints") ?? throw new ArgumentException("--endpoints PATH (the server's endpoints.json) is required");
        var concurrency = int.Parse(Argument(args, "--concurrency") ?? "16", CultureInfo.InvariantCulture);
        var seconds = double.Parse(Argument(args, "--seconds") ?? "20", CultureInfo.InvariantCulture);
        var warmup = double.Parse(Argument(args, "--warmup") ?? "3", CultureInfo.InvariantCulture);

        var endpoints = JsonNode.Parse(await File.ReadAllTextAsync(endpointsPath))!.AsObject();
        var arm = new Uri((string)endpoints["url"]!);
        var tenant = (string)endpoints["tenantId"]!;
        var subscription = (string)endpoints["subscriptionId"]!;
        var caPath = (string)endpoints["caCertificate"]!;
        using var ca = X509CertificateLoaderHelper.Load(caPath);

        using var setup = NewClient(ca, 4);
        var armToken = await TokenAsync(setup, endpoints, "https://management.azure.com/.default");
        var vaultToken = await TokenAsync(setup, endpoints, "https://vault.azure.net/.default");
        var objectId = ObjectId(armToken);

        var name = "bench" + RandomNumberGenerator.GetHexString(8, lowercase: true);
        var rg = new Uri(arm, $"/subscriptions/{subscription}/resourceGroups/{name}?api-version=2025-04-01");
        await SendAsync(setup, HttpMethod.Put, rg, armToken, new JsonObject { ["location"] = "eastus" });
        var vaultUrl = new Uri(arm, $"/subscriptions/{subscription}/resourceGroups/{name}/providers/Microsoft.KeyVault/vaults/{name}?api-version=2026-02-01");
        var vault = await SendAsync(setup, HttpMethod.Put, vaultUrl, armToken, new JsonObject
        {
            ["location"] = "eastus",
            ["properties"] = new JsonObject
            {
                ["tenantId"] = tenant,
                ["sku"] = new JsonObject { ["family"] = "A", ["name"] = "standard" },
                ["accessPolicies"] = new JsonArray(new JsonObject
                {
                    ["tenantId"] = tenant,
                    ["objectId"] = objectId,
                    ["permissions"] = new JsonObject { ["keys"] = new JsonArray("create", "get", "unwrapKey", "wrapKey", "delete", "purge") },
                }),
            },
        });
        var vaultUri = new Uri((string)vault["properties"]!["vaultUri"]!);
        var key = await SendAsync(setup, HttpMethod.Post, new Uri(vaultUri, "keys/bench/create?api-version=7.6"), vaultToken,
            new JsonObject { ["kty"] = "RSA", ["key_size"] = 2048 });
        var kid = new Uri((string)key["key"]!["kid"]!);

        using var rsa = RSA.Create(new RSAParameters
        {
            Modulus = Base64Url.DecodeFromChars((string)key["key"]!["n"]!),
            Exponent = Base64Url.DecodeFromChars((string)key["key"]!["e"]!),
        });
        var dek = RandomNumberGenerator.GetBytes(32);
        var body = new JsonObject { ["alg"] = "RSA-OAEP-256", ["value"] = Base64Url.EncodeToString(rsa.Encrypt(dek, RSAEncryptionPadding.OaepSHA256)) }.ToJsonString();
        var unwrapUri = new Uri(kid + "/unwrapkey?api-version=7.6");
        var expected = Base64Url.EncodeToString(dek);

        var clients = Enumerable.Range(0, concurrency).Select(_ => NewClient(ca, 1)).ToArray();
        try
        {
            // Warm-up: connections, JIT, the server's key cache.
            await RunPhaseAsync(clients, unwrapUri, vaultToken, body, expected, TimeSpan.FromSeconds(warmup));
            var (count, latencies, elapsed) = await RunPhaseAsync(clients, unwrapUri, vaultToken, body, expected, TimeSpan.FromSeconds(seconds));
            latencies.Sort();
            var rate = count / elapsed.TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"unwrapKey RSA-2048 RSA-OAEP-256: clients={concurrency} seconds={elapsed.TotalSeconds:F1} ops={count} rate={rate:F0}/s p50={Percentile(latencies, 0.50):F2}ms p99={Percentile(latencies, 0.99):F2}ms"));
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }

            await SendAsync(setup, HttpMethod.Delete, rg, armToken, null);
        }

        return 0;
    }

    private static async Task<(long Count, List<double> LatenciesMs, TimeSpan Elapsed)> RunPhaseAsync(
        HttpClient[] clients, Uri unwrapUri, string token, string body, string expected, TimeSpan duration)
    {
        var stopwatch = Stopwatch.StartNew();
        var all = new List<double>[clients.Length];
        var workers = clients.Select((client, index) => Task.Run(async () =>
        {
            var latencies = new List<double>(4096);
            while (stopwatch.Elapsed < duration)
            {
                var started = Stopwatch.GetTimestamp();
                using var request = new HttpRequestMessage(HttpMethod.Post, unwrapUri) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                using var response = await client.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                if (!response.IsSuccessStatusCode || (string?)JsonNode.Parse(text)!["value"] != expected)
                {
                    throw new InvalidOperationException($"unwrapkey answered {(int)response.StatusCode}: {text}");
                }

                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            all[index] = latencies;
        })).ToArray();
        await Task.WhenAll(workers);
        var elapsed = stopwatch.Elapsed;
        var merged = all.SelectMany(l => l).ToList();
        return (merged.Count, merged, elapsed);
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    private static HttpClient NewClient(System.Security.Cryptography.X509Certificates.X509Certificate2 ca, int connections)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    if (certificate is null)
                    {
                        return false;
                    }

                    using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
                    chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                    return chain.Build(new System.Security.Cryptography.X509Certificates.X509Certificate2(certificate));
                },
            },
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
    }

    private static async Task<string> TokenAsync(HttpClient client, JsonObject endpoints, string scope)
    {
        var authority = new Uri((string)endpoints["authorityHost"]!);
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = (string)endpoints["clientId"]!,
            ["client_secret"] = (string)endpoints["clientSecret"]!,
            ["scope"] = scope,
        });
        using var response = await client.PostAsync(new Uri(authority, $"/{(string)endpoints["tenantId"]!}/oauth2/v2.0/token"), form);
        response.EnsureSuccessStatusCode();
        return (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["access_token"]!;
    }

    private static string ObjectId(string jwt)
    {
        var payload = jwt.Split('.')[1];
        return (string)JsonNode.Parse(Base64Url.DecodeFromChars(payload))!["oid"]!;
    }

    private static async Task<JsonObject> SendAsync(HttpClient client, HttpMethod method, Uri uri, string token, JsonObject? body)
    {
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{method} {uri.AbsolutePath} answered {(int)response.StatusCode}: {text}");
        }

        return text.Length == 0 ? [] : JsonNode.Parse(text) as JsonObject ?? [];
    }

    private static string? Argument(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    private static class X509CertificateLoaderHelper
    {
        public static System.Security.Cryptography.X509Certificates.X509Certificate2 Load(string path) =>
            System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(path);
    }
}
