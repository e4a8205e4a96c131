// `ironclad monitor activity-log list`: Resource Manager's activity log (every write: who, what,
// when, result) through the Azure Monitor events API, filtered by time range and resource.
using System.CommandLine;
using System.Globalization;
using Ironclad.Host.Cli;
using static Ironclad.Host.Commands.Cli.CliCommand;

namespace Ironclad.Host.Commands.Cli;

internal static class MonitorCommand
{
    private static readonly Column[] Columns =
    [
        Column.Path("Time", "eventTimestamp"), Column.Path("Operation", "operationName.value"), Column.Path("Status", "status.value"),
        Column.Path("Caller", "caller"), Column.Path("Resource", "resourceId"),
    ];

    public static Command Create()
    {
        var start = new Option<DateTimeOffset?>("--start-time") { Description = "From (ISO 8601; default: 6 hours ago)." };
        var end = new Option<DateTimeOffset?>("--end-time") { Description = "Until (ISO 8601; default: now)." };
        var resourceId = Optional("--resource-id", "Only events of this resource.");
        var list = Leaf("list", "List activity-log events.", [start, end, resourceId], Columns, async (call, ct) =>
        {
            var until = call.Value(end) ?? DateTimeOffset.UtcNow;
            var from = call.Value(start) ?? until.AddHours(-6);
            var filter = string.Create(CultureInfo.InvariantCulture, $"eventTimestamp ge '{from.UtcDateTime:o}' and eventTimestamp le '{until.UtcDateTime:o}'");
            if (call.Value(resourceId) is { Length: > 0 } resource)
            {
                filter += $" and resourceUri eq '{resource}'";
            }

            return await call.Connection.ListAsync(
                $"/subscriptions/{call.Subscription}/providers/Microsoft.Insights/eventtypes/management/values?$filter={Uri.EscapeDataString(filter)}",
                ArmConnection.MonitorApiVersion,
                ct);
        });
        return Group("monitor", "Read the activity log.", Group("activity-log", "Activity-log events.", list));
    }
}
