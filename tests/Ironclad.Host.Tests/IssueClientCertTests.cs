// The real `ironclad dev issue-client-cert` process: the qemu/libnbd file layout with the right
// modes, a certificate that chains to the data directory's CA for client authentication only,
// and the refusals (no CA, an identity already in the output directory, a bad name).
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ironclad.Host.Tls;
using Ironclad.Testing;
using Ironclad.Testing.Processes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ironclad.Host.Tests;

public sealed class IssueClientCertTests
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode GroupOrOtherWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    [Fact]
    public async Task Writes_ca_client_certificate_and_key_that_chain_to_the_local_ca_for_client_auth()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var dataDirectory = CreateDataDirectoryWithCa(temporary);
        var output = temporary.Combine("out", "alice");

        var (exitCode, process) = await RunAsync(["--data", dataDirectory, "--name", "alice", "--out", output]);

        Assert.True(exitCode == 0, process);
        Assert.Contains("issued client certificate CN=alice, O=Ironclad", process, StringComparison.Ordinal);
        var keyPath = Path.Combine(output, "client-key.pem");
        var certificatePath = Path.Combine(output, "client-cert.pem");
        var caPath = Path.Combine(output, "ca-cert.pem");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(keyPath));
            Assert.Equal(OwnerReadWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(output));
            foreach (var publicFile in new[] { certificatePath, caPath })
            {
                var mode = File.GetUnixFileMode(publicFile);
                Assert.True((mode & UnixFileMode.UserRead) != 0 && (mode & GroupOrOtherWrite) == 0, $"{publicFile}: {mode}");
            }
        }

        using var ca = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(caPath, TestContext.Current.CancellationToken));
        using var dataDirectoryCa = CaTrust.LoadCertificate(Path.Combine(dataDirectory, "tls", "ca.pem"));
        Assert.Equal(dataDirectoryCa.Thumbprint, ca.Thumbprint);
        Assert.False(ca.HasPrivateKey);

        using var certificate = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        Assert.True(certificate.HasPrivateKey);
        Assert.Equal("CN=alice, O=Ironclad", certificate.Subject);
        Assert.Equal(ca.Subject, certificate.Issuer);
        Assert.Equal("ECC", certificate.PublicKey.Oid.FriendlyName);
        using (var key = certificate.GetECDsaPublicKey()!)
        {
            Assert.Equal(256, key.KeySize);
        }

        var lifetime = certificate.NotAfter - certificate.NotBefore;
        Assert.InRange(lifetime.TotalDays, 364, 366.1);
        Assert.False(certificate.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value);
        Assert.Equal(["1.3.6.1.5.5.7.3.2"], usages);

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientCertificate.ClientAuthentication);
        Assert.True(chain.Build(certificate), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));

        using var serverAuthChain = new X509Chain();
        serverAuthChain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        serverAuthChain.ChainPolicy.CustomTrustStore.Add(ca);
        serverAuthChain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        serverAuthChain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.1"));
        Assert.False(serverAuthChain.Build(certificate), "a client certificate must not be usable as a server certificate");

        // The key never reaches the output.
        var keyBody = (await File.ReadAllLinesAsync(keyPath, TestContext.Current.CancellationToken)).Where(line => !line.StartsWith("-----", StringComparison.Ordinal));
        Assert.All(keyBody, line => Assert.DoesNotContain(line, process, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_existing_identity_is_not_overwritten_without_force()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var dataDirectory = CreateDataDirectoryWithCa(temporary);
        var output = temporary.Combine("out");
        Assert.Equal(0, (await RunAsync(["--data", dataDirectory, "--name", "first", "--out", output])).ExitCode);
        var keyBefore = await File.ReadAllBytesAsync(Path.Combine(output, "client-key.pem"), TestContext.Current.CancellationToken);

        var (refused, refusedOutput) = await RunAsync(["--data", dataDirectory, "--name", "second", "--out", output]);

        Assert.True(refused == 1, refusedOutput);
        Assert.Contains("already exists; use --force", refusedOutput, StringComparison.Ordinal);
        Assert.Equal(keyBefore, await File.ReadAllBytesAsync(Path.Combine(output, "client-key.pem"), TestContext.Current.CancellationToken));

        var (forced, forcedOutput) = await RunAsync(["--data", dataDirectory, "--name", "second", "--out", output, "--force"]);

        Assert.True(forced == 0, forcedOutput);
        using var certificate = CaTrust.LoadCertificate(Path.Combine(output, "client-cert.pem"));
        Assert.Equal("CN=second, O=Ironclad", certificate.Subject);
    }

    [Fact]
    public async Task A_data_directory_without_a_ca_is_refused_and_no_ca_is_created()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var dataDirectory = temporary.Combine("data");
        Directory.CreateDirectory(dataDirectory);

        var (exitCode, output) = await RunAsync(["--data", dataDirectory, "--name", "alice", "--out", temporary.Combine("out")]);

        Assert.True(exitCode == 1, output);
        Assert.Contains("there is no local CA", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dataDirectory, "tls")));
        Assert.False(Directory.Exists(temporary.Combine("out")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("a-name-that-is-far-too-long-for-a-common-name-in-an-x509-certificate")]
    [InlineData("tab\there")]
    public async Task A_bad_name_is_a_usage_error(string name)
    {
        using var temporary = new TempDirectory("ironclad-host-tests");

        var (exitCode, output) = await RunAsync(["--data", temporary.Path, "--name", name, "--out", temporary.Combine("out")]);

        Assert.True(exitCode == 2, output);
        Assert.Contains("--name", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_name_with_dn_syntax_stays_one_common_name()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var dataDirectory = CreateDataDirectoryWithCa(temporary);
        var output = temporary.Combine("out");

        Assert.Equal(0, (await RunAsync(["--data", dataDirectory, "--name", "eve, O=Other", "--out", output])).ExitCode);

        using var certificate = CaTrust.LoadCertificate(Path.Combine(output, "client-cert.pem"));
        var names = certificate.SubjectName.EnumerateRelativeDistinguishedNames().Select(n => (n.GetSingleElementType().Value, n.GetSingleElementValue())).ToList();
        Assert.Equal([("2.5.4.10", "Ironclad"), ("2.5.4.3", "eve, O=Other")], names.OrderBy(n => n.Value, StringComparer.Ordinal));
    }

    private static string CreateDataDirectoryWithCa(TempDirectory temporary)
    {
        var dataDirectory = temporary.Combine("data");
        Directory.CreateDirectory(dataDirectory);
        using var material = TlsMaterial.Prepare(
            Path.Combine(dataDirectory, "tls"), System.Net.IPAddress.Loopback, TimeProvider.System, NullLogger.Instance);
        return dataDirectory;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string[] arguments)
    {
        await using var process = IroncladProcess.Start(["dev", "issue-client-cert", .. arguments]);
        var exitCode = await process.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);
        return (exitCode, process.CapturedOutput());
    }
}
