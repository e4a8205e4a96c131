// `ironclad vm image list|list-publishers|list-offers|list-skus`: the built-in marketplace catalog
// through Microsoft.Compute/locations/{loc}/publishers/... (az's names). `list` walks publishers →
// offers → skus → versions and prints one row per version with its URN, what `vm create --image` takes.
using System.CommandLine;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;
using static Ironclad.Host.Commands.Cli.CliCommand;

namespace Ironclad.Host.Commands.Cli;

internal static class VmImageCommand
{
    private static readonly Column[] ImageColumns =
    [
        Column.Path("Publisher", "publisher"), Column.Path("Offer", "offer"), Column.Path("Sku", "sku"), Column.Path("Version", "version"),
        Column.Path("Urn", "urn"),
    ];

    private static readonly Column[] NameColumns = [Column.Path("Name", "name"), Column.Path("Location", "location")];

    public static Command Create() => Group("image", "The marketplace images VMs and scale sets are created from (--image Publisher:Offer:Sku:Version).",
        ListImages(), ListLevel("list-publishers", 0), ListLevel("list-offers", 1), ListLevel("list-skus", 2));

    private static Command ListImages()
    {
        var location = LocationOption();
        var publisher = Optional("--publisher", "Only this publisher (-p).");
        publisher.Aliases.Add("-p");
        var offer = Optional("--offer", "Only this offer (-f).");
        offer.Aliases.Add("-f");
        var sku = Optional("--sku", "Only this sku (-s).");
        sku.Aliases.Add("-s");
        return Leaf("list", "List the marketplace images (every version) with their URNs.", [location, publisher, offer, sku], ImageColumns, async (call, ct) =>
        {
            var rows = new JsonArray();
            var at = call.Value(location);
            foreach (var p in await NamesAsync(call, PublishersPath(call, at), call.Value(publisher), ct))
            {
                foreach (var o in await NamesAsync(call, $"{PublishersPath(call, at)}/{Escape(p)}/artifacttypes/vmimage/offers", call.Value(offer), ct))
                {
                    var skusPath = $"{PublishersPath(call, at)}/{Escape(p)}/artifacttypes/vmimage/offers/{Escape(o)}/skus";
                    foreach (var s in await NamesAsync(call, skusPath, call.Value(sku), ct))
                    {
                        foreach (var v in await NamesAsync(call, $"{skusPath}/{Escape(s)}/versions", null, ct))
                        {
                            rows.Add(new JsonObject
                            {
                                ["publisher"] = p,
                                ["offer"] = o,
                                ["sku"] = s,
                                ["version"] = v,
                                ["urn"] = $"{p}:{o}:{s}:{v}",
                                ["location"] = at,
                            });
                        }
                    }
                }
            }

            return rows;
        });
    }

    private static Command ListLevel(string verb, int depth)
    {
        var location = LocationOption();
        var publisher = Optional("--publisher", "The publisher.");
        publisher.Aliases.Add("-p");
        publisher.Required = depth >= 1;
        var offer = Optional("--offer", "The offer.");
        offer.Aliases.Add("-f");
        offer.Required = depth >= 2;
        Option[] options = depth switch { 0 => [location], 1 => [location, publisher], _ => [location, publisher, offer] };
        var what = depth switch { 0 => "publishers", 1 => "a publisher's offers", _ => "an offer's skus" };
        return Leaf(verb, $"List {what}.", options, NameColumns, async (call, ct) =>
        {
            var path = PublishersPath(call, call.Value(location));
            if (depth >= 1)
            {
                path += $"/{Escape(call.Value(publisher)!)}/artifacttypes/vmimage/offers";
            }

            if (depth >= 2)
            {
                path += $"/{Escape(call.Value(offer)!)}/skus";
            }

            return await ItemsAsync(call, path, ct);
        });
    }

    private static Option<string> LocationOption() => new("--location", "-l")
    {
        Description = "Location (default eastus).",
        DefaultValueFactory = _ => "eastus",
    };

    private static string PublishersPath(CliInvocation call, string location) =>
        $"/subscriptions/{call.Subscription}/providers/Microsoft.Compute/locations/{Escape(location)}/publishers";

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    /// <summary>The names at a listing level (optionally only <paramref name="only"/>, case-insensitively).</summary>
    private static async Task<IReadOnlyList<string>> NamesAsync(CliInvocation call, string path, string? only, CancellationToken ct) =>
        [.. (await ItemsAsync(call, path, ct)).Select(i => CliOutput.Select(i, "name")).OfType<string>()
            .Where(n => only is not { Length: > 0 } || string.Equals(n, only, StringComparison.OrdinalIgnoreCase))];

    /// <summary>A listing level: a bare JSON array, as Azure answers these, or a {"value": [...]} page.</summary>
    private static async Task<JsonArray> ItemsAsync(CliInvocation call, string path, CancellationToken ct)
    {
        var result = await call.Connection.SendAsync(HttpMethod.Get, path, VmCommand.VmApiVersion, null, ct);
        return result switch
        {
            JsonArray array => array,
            JsonObject obj when obj["value"] is JsonArray value => value.DeepClone().AsArray(),
            null => [],
            _ => throw new CliException("InvalidResponse", $"GET {path} answered neither a list nor a page."),
        };
    }
}
