// Without AES-NI, XtsAes256 must refuse to exist rather than fall back to a table-based AES.
// The test re-runs itself in a child process with the runtime's AES support switched off
// (DOTNET_EnableAES=0), because IsSupported is fixed for the life of a process.
using System.Diagnostics;
using Ironclad.Crypto.Keys;
using Ironclad.Crypto.Xts;
using X86Aes = System.Runtime.Intrinsics.X86.Aes;

namespace Ironclad.Crypto.Tests.Xts;

public sealed class PlatformSupportTests
{
    private const string AesKnob = "DOTNET_EnableAES";

    [Fact]
    public async Task Construction_fails_loudly_when_the_CPU_offers_no_AES_instructions()
    {
        if (Environment.GetEnvironmentVariable(AesKnob) == "0")
        {
            // Child process: the runtime reports no AES-NI.
            Assert.False(X86Aes.IsSupported);
            using var key = DataKey.Generate();
            var error = Assert.Throws<PlatformNotSupportedException>(() => new XtsAes256(key));
            Assert.Contains("AES-NI", error.Message, StringComparison.Ordinal);
            return;
        }

        if (!X86Aes.IsSupported)
        {
            Assert.Skip("This machine has no AES-NI at all; the child-process check is moot.");
        }

        var testName = $"{typeof(PlatformSupportTests).FullName}.{nameof(Construction_fails_loudly_when_the_CPU_offers_no_AES_instructions)}";
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(PlatformSupportTests).Assembly.Location);
        start.ArgumentList.Add("-method");
        start.ArgumentList.Add(testName);
        start.Environment[AesKnob] = "0";

        var cancellationToken = TestContext.Current.CancellationToken;
        using var child = Process.Start(start)!;
        var outputTask = child.StandardOutput.ReadToEndAsync(cancellationToken);
        var errorTask = child.StandardError.ReadToEndAsync(cancellationToken);
        await child.WaitForExitAsync(cancellationToken);
        var output = await outputTask;
        var errorOutput = await errorTask;

        Assert.True(
            child.ExitCode == 0 && output.Contains("Total: 1,", StringComparison.Ordinal) && output.Contains("Failed: 0,", StringComparison.Ordinal),
            $"child run (exit {child.ExitCode}):\n{output}\n{errorOutput}");
    }
}
