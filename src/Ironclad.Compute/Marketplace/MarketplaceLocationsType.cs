// Microsoft.Compute/locations/{loc}/publishers/…: the VM image listing of the built-in marketplace
// (publishers, offers, skus, versions, and one version), in the cloud's VirtualMachineImageResource
// shapes — plain JSON arrays of {name, location, id}. Invariant: read-only and subscription-level
// (no resource group); it lists the catalog, never a volume, so listing never generates an image.
using System.Text.Json.Nodes;
using Ironclad.Compute.Disks;
using Ironclad.Identity;
using Ironclad.ResourceManager.Providers;

namespace Ironclad.Compute.Marketplace;

public sealed class MarketplaceLocationsType : IComputeResourceType
{
    public const string ReadAction = "Microsoft.Compute/locations/publishers/read";

    private readonly Lazy<IMarketplaceImages> _images;

    /// <param name="images">Resolved on first request.</param>
    public MarketplaceLocationsType(Func<IMarketplaceImages> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        _images = new Lazy<IMarketplaceImages>(images);
    }

    public string TypeName => "locations";

    /// <summary>Holds no resources of a group: its place in group deletion does not matter.</summary>
    public int DeleteOrder => 1000;

    public string RequiredAction(ProviderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        _ = Parse(request);
        return request.Method == "GET"
            ? ReadAction
            : throw new ArmException(405, "MethodNotAllowed", $"{request.Method} is not supported on the VM image listing; it is read-only (GET).");
    }

    public Task<ProviderResult> HandleAsync(ProviderRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        var query = Parse(request);
        var catalog = _images.Value.Catalog;
        var region = DiskEncryptionPolicy.Region(query.Location);
        var root = $"/Subscriptions/{request.SubscriptionId}/Providers/Microsoft.Compute/Locations/{region}";
        JsonNode body;
        switch (query.Level)
        {
            case Level.Publishers:
                body = Items(catalog.Select(i => i.Publisher), name => $"{root}/Publishers/{name}", region);
                break;
            case Level.Offers:
                var publisher = Matching(catalog, query, Level.Offers);
                body = Items(publisher.Select(i => i.Offer), name => $"{root}/Publishers/{publisher[0].Publisher}/ArtifactTypes/VMImage/Offers/{name}", region);
                break;
            case Level.Skus:
                var offer = Matching(catalog, query, Level.Skus);
                body = Items(offer.Select(i => i.Sku), name => $"{root}/Publishers/{offer[0].Publisher}/ArtifactTypes/VMImage/Offers/{offer[0].Offer}/Skus/{name}", region);
                break;
            case Level.Versions:
                var sku = Matching(catalog, query, Level.Versions);
                IEnumerable<string> versions = sku.Select(i => i.Version).Order(MarketplaceImages.VersionComparer.Instance);
                if (request.Query.TryGetValue("$orderby", out var orderBy) && orderBy.Trim().Equals("name desc", StringComparison.OrdinalIgnoreCase))
                {
                    versions = versions.Reverse();
                }

                if (request.Query.TryGetValue("$top", out var topText))
                {
                    versions = int.TryParse(topText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var top) && top >= 1
                        ? versions.Take(top)
                        : throw new ArmException(400, "InvalidParameter", $"$top '{topText}' must be a positive integer.");
                }

                body = Items(versions, name => PlatformImageIds.Format(request.SubscriptionId, region, sku.First(i => i.Version == name)), region, ordered: true);
                break;
            default:
                var image = _images.Value.Resolve(new MarketplaceImageReference(query.Publisher!, query.Offer!, query.Sku!, query.Version!));
                body = Version(image, request.SubscriptionId, region);
                break;
        }

        return Task.FromResult(new ProviderResult(200, body));
    }

    /// <summary>Not resources: the generic /resources listing shows none.</summary>
    public IReadOnlyList<JsonObject> List(Guid subscriptionId, string? resourceGroup) => [];

    public void DeleteResourceGroupContents(Guid subscriptionId, string resourceGroup, CallerIdentity caller)
    {
    }

    /// <summary>The body of GET …/versions/{version}: a VirtualMachineImage.</summary>
    public static JsonObject Version(MarketplaceImage image, Guid subscriptionId, string region)
    {
        ArgumentNullException.ThrowIfNull(image);
        return new JsonObject
        {
            ["properties"] = new JsonObject
            {
                ["hyperVGeneration"] = image.HyperVGeneration,
                ["architecture"] = "x64",
                ["replicaType"] = "Unmanaged",
                ["disallowed"] = new JsonObject { ["vmDiskType"] = "None" },
                ["automaticOSUpgradeProperties"] = new JsonObject { ["automaticOSUpgradeSupported"] = false },
                ["imageDeprecationStatus"] = new JsonObject { ["imageState"] = "Active" },
                ["osDiskImage"] = new JsonObject
                {
                    ["operatingSystem"] = image.OsType,
                    ["sizeInGb"] = DiskServices.SizeGb(image.SizeBytes),
                    ["sizeInBytes"] = image.SizeBytes,
                },
                ["dataDiskImages"] = new JsonArray(),
            },
            ["location"] = region,
            ["name"] = image.Version,
            ["id"] = PlatformImageIds.Format(subscriptionId, region, image),
        };
    }

    private static JsonArray Items(IEnumerable<string> names, Func<string, string> id, string region, bool ordered = false)
    {
        var distinct = names.Distinct(StringComparer.OrdinalIgnoreCase);
        var list = new JsonArray();
        foreach (var name in ordered ? distinct : distinct.Order(StringComparer.OrdinalIgnoreCase))
        {
            list.Add(new JsonObject { ["location"] = region, ["name"] = name, ["id"] = id(name) });
        }

        return list;
    }

    /// <summary>The catalog entries under the query's publisher (/offer/sku); 404 naming what exists when one is unknown.</summary>
    private List<MarketplaceImage> Matching(IReadOnlyList<MarketplaceImage> catalog, Query query, Level level)
    {
        // Resolve with any version validates publisher, offer and sku with the catalog's messages.
        var reference = new MarketplaceImageReference(query.Publisher!, query.Offer ?? "", query.Sku ?? "", "latest");
        var byPublisher = catalog.Where(i => Same(i.Publisher, reference.Publisher)).ToList();
        if (level == Level.Offers)
        {
            return byPublisher.Count > 0 ? byPublisher : throw Unknown(reference);
        }

        var byOffer = byPublisher.Where(i => Same(i.Offer, reference.Offer)).ToList();
        if (level == Level.Skus)
        {
            return byOffer.Count > 0 ? byOffer : throw Unknown(reference);
        }

        var bySku = byOffer.Where(i => Same(i.Sku, reference.Sku)).ToList();
        return bySku.Count > 0 ? bySku : throw Unknown(reference);
    }

    private ArmException Unknown(MarketplaceImageReference reference)
    {
        try
        {
            _images.Value.Resolve(reference);
        }
        catch (ArmException e)
        {
            return e;
        }

        return new ArmException(404, "PlatformImageNotFound", $"No image matches {reference.Publisher}/{reference.Offer}/{reference.Sku}.");
    }

    private static bool Same(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// locations/{loc}/publishers[/{p}/artifacttypes/vmimage/offers[/{o}/skus[/{s}/versions[/{v}]]]] — anything else is not ours.
    /// </summary>
    private static Query Parse(ProviderRequest request)
    {
        var p = request.ProviderPath;
        bool Is(int index, string segment) => p.Count > index && p[index].Equals(segment, StringComparison.OrdinalIgnoreCase);
        var valid = p.Count is 3 or 7 or 9 or 11 or 12
            && Is(2, "publishers")
            && (p.Count == 3 || (Is(4, "artifacttypes") && Is(5, "vmimage") && Is(6, "offers")))
            && (p.Count <= 7 || Is(8, "skus"))
            && (p.Count <= 9 || Is(10, "versions"));
        if (!valid)
        {
            throw new ArmException(404, "InvalidResourceType",
                $"The resource type 'locations/{string.Join('/', p.Skip(2))}' could not be found in the namespace 'Microsoft.Compute': " +
                "the VM image listing is locations/{location}/publishers[/{publisher}/artifacttypes/vmimage/offers[/{offer}/skus[/{sku}/versions[/{version}]]]].");
        }

        return new Query(
            p.Count switch { 3 => Level.Publishers, 7 => Level.Offers, 9 => Level.Skus, 11 => Level.Versions, _ => Level.Version },
            p[1],
            p.Count > 3 ? p[3] : null,
            p.Count > 7 ? p[7] : null,
            p.Count > 9 ? p[9] : null,
            p.Count > 11 ? p[11] : null);
    }

    private enum Level
    {
        Publishers,
        Offers,
        Skus,
        Versions,
        Version,
    }

    private sealed record Query(Level Level, string Location, string? Publisher, string? Offer, string? Sku, string? Version);
}
