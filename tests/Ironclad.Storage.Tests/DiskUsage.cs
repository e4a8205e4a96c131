// Real disk usage (allocated blocks, not apparent size) of a directory tree, via `du`.
using System.Diagnostics;
using System.Globalization;

namespace Ironclad.Storage.Tests;

internal static class DiskUsage
{
    public static long AllocatedBytes(string directory)
    {
        var start = new ProcessStartInfo("du", ["-s", "-B1", directory]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("du did not start");
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"du failed: {process.StandardError.ReadToEnd()}");
        return long.Parse(output.Split('\t')[0], CultureInfo.InvariantCulture);
    }
}
