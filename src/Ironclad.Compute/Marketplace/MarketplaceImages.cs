// The built-in marketplace: the catalog, and each image's volume per region, generated at first use
// under the region's platform key and recorded in the metadata database (component
// "compute-marketplace") so it is built once across restarts. Invariant: an image volume is a
// read-only storage snapshot that no disk row names (never a customer resource); a recorded row
// always points at a complete volume (the row is written after the last block), and concurrent first
// users of one (image, region) wait for one build.
using System.Globalization;
using Ironclad.Compute.DataKeys;
using Ironclad.Compute.Disks;
using Ironclad.Compute.Platform;
using Ironclad.Metadata;
using Ironclad.ResourceManager.Providers;
using Ironclad.Storage;

namespace Ironclad.Compute.Marketplace;

public sealed class MarketplaceImages : IMarketplaceImages
{
    public const string Component = "compute-marketplace";

    /// <summary>The built-in catalog (see docs/compute/marketplace.md).</summary>
    public static readonly IReadOnlyList<MarketplaceImage> BuiltIn =
    [
        new("Canonical", "ubuntu-24_04-lts", "server", "24.04.202610", "Linux", "V2", 512L << 20),
        new("Canonical", "ubuntu-24_04-lts", "server", "24.04.202611", "Linux", "V2", 512L << 20),
        new("Canonical", "ubuntu-24_04-lts", "server-gen1", "24.04.202611", "Linux", "V1", 512L << 20),
        new("Ironclad", "minimal", "v1", "1.0.0", "Linux", "V2", 256L << 20),
        new("Ironclad", "minimal", "v1", "1.1.0", "Linux", "V2", 256L << 20),
    ];

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE compute_marketplace_volumes (
            image_key TEXT NOT NULL,              -- PUBLISHER/OFFER/SKU/VERSION, upper case
            region TEXT NOT NULL,                 -- lower case, no spaces
            volume_id TEXT NOT NULL UNIQUE,
            size_bytes INTEGER NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (image_key, region)
        );
        """,
    ];

    private readonly MetadataDatabase _database;
    private readonly VolumeStore _volumes;
    private readonly Lazy<IDataKeyService> _dataKeys;
    private readonly Lazy<IPlatformKeys> _platformKeys;
    private readonly TimeProvider _time;
    private readonly Dictionary<(string Image, string Region), Task<MarketplaceVolume>> _builds = [];
    private readonly Lock _buildsLock = new();

    /// <param name="dataKeys">Resolved on first build (data keys depend on platform keys, which go through Resource Manager).</param>
    /// <param name="platformKeys">Resolved on first build.</param>
    public MarketplaceImages(
        MetadataDatabase database, VolumeStore volumes, Func<IDataKeyService> dataKeys, Func<IPlatformKeys> platformKeys, TimeProvider time,
        IReadOnlyList<MarketplaceImage>? catalog = null)
    {
        _database = database ?? throw new ArgumentNullException(nameof(database));
        _volumes = volumes ?? throw new ArgumentNullException(nameof(volumes));
        ArgumentNullException.ThrowIfNull(dataKeys);
        ArgumentNullException.ThrowIfNull(platformKeys);
        _dataKeys = new Lazy<IDataKeyService>(dataKeys);
        _platformKeys = new Lazy<IPlatformKeys>(platformKeys);
        _time = time ?? throw new ArgumentNullException(nameof(time));
        Catalog = catalog ?? BuiltIn;
        database.Migrate(Component, Migrations);
    }

    public IReadOnlyList<MarketplaceImage> Catalog { get; }

    /// <summary>How many images this process generated (a second disk from the same image must not add one).</summary>
    public int BuildCount => _buildCount;

    private int _buildCount;

    public MarketplaceImage Resolve(MarketplaceImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var publisher = Catalog.Where(i => Same(i.Publisher, reference.Publisher)).ToList();
        if (publisher.Count == 0)
        {
            throw NotFound($"The publisher '{reference.Publisher}' has no images here; publishers: {Names(Catalog.Select(i => i.Publisher))}.");
        }

        var offer = publisher.Where(i => Same(i.Offer, reference.Offer)).ToList();
        if (offer.Count == 0)
        {
            throw NotFound($"The publisher '{publisher[0].Publisher}' has no offer '{reference.Offer}'; its offers: {Names(publisher.Select(i => i.Offer))}.");
        }

        var sku = offer.Where(i => Same(i.Sku, reference.Sku)).ToList();
        if (sku.Count == 0)
        {
            throw NotFound($"The offer '{offer[0].Publisher}/{offer[0].Offer}' has no sku '{reference.Sku}'; its skus: {Names(offer.Select(i => i.Sku))}.");
        }

        if (Same(reference.Version, "latest"))
        {
            return sku.OrderByDescending(i => i.Version, VersionComparer.Instance).First();
        }

        return sku.FirstOrDefault(i => Same(i.Version, reference.Version))
            ?? throw NotFound($"The image '{sku[0].Publisher}/{sku[0].Offer}/{sku[0].Sku}' has no version '{reference.Version}'; its versions: {Names(sku.Select(i => i.Version))} (or 'latest').");
    }

    public async Task<MarketplaceVolume> GetVolumeAsync(MarketplaceImage image, string location, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        var known = Catalog.FirstOrDefault(i => Same(KeyOf(i), KeyOf(image)))
            ?? throw NotFound($"The image '{KeyOf(image)}' is not in the catalog.");
        var region = DiskEncryptionPolicy.Region(location);
        var key = (KeyOf(known), region);
        Task<MarketplaceVolume> build;
        lock (_buildsLock)
        {
            if (!_builds.TryGetValue(key, out build!))
            {
                build = Task.Run(() => FindOrBuildAsync(known, region), CancellationToken.None);
                _builds[key] = build;
            }
        }

        try
        {
            // One build serves every caller: a caller giving up does not cancel it for the others.
            return await build.WaitAsync(cancellationToken);
        }
        catch (Exception) when (build.IsFaulted || build.IsCanceled)
        {
            // A failed build is forgotten so the next caller tries again; this caller sees the failure.
            lock (_buildsLock)
            {
                if (_builds.TryGetValue(key, out var current) && current == build)
                {
                    _builds.Remove(key);
                }
            }

            throw;
        }
    }

    /// <summary>The recorded volume of (image, region), if it is still in the store.</summary>
    public MarketplaceVolume? Find(MarketplaceImage image, string location)
    {
        ArgumentNullException.ThrowIfNull(image);
        var region = DiskEncryptionPolicy.Region(location);
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT volume_id, size_bytes FROM compute_marketplace_volumes WHERE image_key = $image AND region = $region";
        command.Parameters.AddWithValue("$image", KeyOf(image).ToUpperInvariant());
        command.Parameters.AddWithValue("$region", region);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        var volumeId = Guid.Parse(reader.GetString(0));
        return _volumes.Find(volumeId) is null ? null : new MarketplaceVolume(image, region, volumeId, reader.GetInt64(1));
    }

    private async Task<MarketplaceVolume> FindOrBuildAsync(MarketplaceImage image, string region)
    {
        if (Find(image, region) is { } existing)
        {
            return existing;
        }

        ForgetStaleRow(image, region);
        var volumeId = Guid.NewGuid();
        var writableId = Guid.NewGuid();
        var target = await _platformKeys.Value.CurrentAsync(region, CancellationToken.None);
        using var keys = await _dataKeys.Value.CreateAsync(volumeId, new EncryptionPlan(target, Outer: null), CancellationToken.None);
        try
        {
            // Written into a writable volume, then frozen as a read-only snapshot under the image's id (its DEKs).
            _volumes.CreateVolume(writableId, image.SizeBytes, keys.Inner, keys.Outer);
            using (var volume = _volumes.OpenVolume(writableId, keys.Inner, keys.Outer))
            {
                foreach (var block in MarketplaceImageGenerator.Generate(image))
                {
                    volume.Write(block.OffsetBytes, block.Data);
                }

                volume.Flush();
            }

            _volumes.CreateSnapshot(writableId, volumeId);
            _volumes.Delete(writableId);
            Record(image, region, volumeId);
        }
        catch
        {
            DeleteIfPresent(writableId);
            DeleteIfPresent(volumeId);
            _dataKeys.Value.Shred(volumeId);
            throw;
        }

        Interlocked.Increment(ref _buildCount);
        return new MarketplaceVolume(image, region, volumeId, image.SizeBytes);
    }

    private void Record(MarketplaceImage image, string region, Guid volumeId)
    {
        using var connection = _database.OpenConnection();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO compute_marketplace_volumes (image_key, region, volume_id, size_bytes, created)
            VALUES ($image, $region, $volume, $size, $created)
            """;
        command.Parameters.AddWithValue("$image", KeyOf(image).ToUpperInvariant());
        command.Parameters.AddWithValue("$region", region);
        command.Parameters.AddWithValue("$volume", volumeId.ToString());
        command.Parameters.AddWithValue("$size", image.SizeBytes);
        command.Parameters.AddWithValue("$created", _time.GetUtcNow().ToString("o", CultureInfo.InvariantCulture));
        command.ExecuteNonQuery();
    }

    /// <summary>A row whose volume is gone (a data directory restored without it) is dropped, with the volume's DEKs.</summary>
    private void ForgetStaleRow(MarketplaceImage image, string region)
    {
        using var connection = _database.OpenConnection();
        using var select = connection.CreateCommand();
        select.CommandText = "SELECT volume_id FROM compute_marketplace_volumes WHERE image_key = $image AND region = $region";
        select.Parameters.AddWithValue("$image", KeyOf(image).ToUpperInvariant());
        select.Parameters.AddWithValue("$region", region);
        if (select.ExecuteScalar() is not string stale)
        {
            return;
        }

        _dataKeys.Value.Shred(Guid.Parse(stale));
        using var delete = connection.CreateCommand();
        delete.CommandText = "DELETE FROM compute_marketplace_volumes WHERE image_key = $image AND region = $region";
        delete.Parameters.AddWithValue("$image", KeyOf(image).ToUpperInvariant());
        delete.Parameters.AddWithValue("$region", region);
        delete.ExecuteNonQuery();
    }

    private void DeleteIfPresent(Guid volumeId)
    {
        if (_volumes.Find(volumeId) is not null)
        {
            _volumes.Delete(volumeId);
        }
    }

    private static string KeyOf(MarketplaceImage image) => $"{image.Publisher}/{image.Offer}/{image.Sku}/{image.Version}";

    private static bool Same(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private static string Names(IEnumerable<string> names) => string.Join(", ", names.Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase));

    private static ArmException NotFound(string message) => new(404, "PlatformImageNotFound", message);

    /// <summary>Orders versions by their dotted numeric parts ("24.04.202611" > "24.04.202610", "1.10.0" > "1.9.0").</summary>
    public sealed class VersionComparer : IComparer<string>
    {
        public static readonly VersionComparer Instance = new();

        public int Compare(string? x, string? y)
        {
            var a = (x ?? "").Split('.');
            var b = (y ?? "").Split('.');
            for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
            {
                var pa = i < a.Length ? a[i] : "0";
                var pb = i < b.Length ? b[i] : "0";
                var order = long.TryParse(pa, NumberStyles.None, CultureInfo.InvariantCulture, out var na) && long.TryParse(pb, NumberStyles.None, CultureInfo.InvariantCulture, out var nb)
                    ? na.CompareTo(nb)
                    : string.Compare(pa, pb, StringComparison.OrdinalIgnoreCase);
                if (order != 0)
                {
                    return order;
                }
            }

            return 0;
        }
    }
}
