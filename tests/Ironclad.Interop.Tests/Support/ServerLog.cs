// Checks on what an `ironclad` process logged (text format: "<timestamp> <level>: <category>[<id>] <message>").
using System.Text.RegularExpressions;
using Ironclad.Testing.Processes;

namespace Ironclad.Interop.Tests.Support;

internal static partial class ServerLog
{
    /// <summary>Fails if the process logged anything at error or critical level (a request failing unexpectedly is EIO and logged as an error).</summary>
    public static void AssertNoErrors(IroncladProcess process)
    {
        ArgumentNullException.ThrowIfNull(process);
        var errors = ErrorLine().Matches(process.StandardOutput).Select(m => m.Value).ToList();
        Assert.True(errors.Count == 0, $"{process.Describe()} logged errors:\n{string.Join('\n', errors)}\n{process.CapturedOutput()}");
    }

    /// <summary>How many lines carry event <paramref name="eventId"/> (e.g. 3002, an NBD client attached an export).</summary>
    public static int CountEvents(IroncladProcess process, int eventId)
    {
        ArgumentNullException.ThrowIfNull(process);
        var marker = $"[{eventId}] ";
        return process.StandardOutput.Split('\n').Count(line => line.Contains(marker, StringComparison.Ordinal));
    }

    /// <summary>
    /// Waits until <paramref name="eventId"/> was logged at least <paramref name="count"/> times (the
    /// server's stdout is read asynchronously, so a line may arrive just after the client finished);
    /// returns the count reached, which is below <paramref name="count"/> only after <paramref name="timeout"/>.
    /// </summary>
    public static async Task<int> WaitForEventsAsync(IroncladProcess process, int eventId, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var seen = CountEvents(process, eventId);
            if (seen >= count || DateTime.UtcNow >= deadline)
            {
                return seen;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }

    [GeneratedRegex(@"^\S+ (fail|crit): .*$", RegexOptions.Multiline)]
    private static partial Regex ErrorLine();
}
