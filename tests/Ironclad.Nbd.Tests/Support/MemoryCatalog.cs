// A small INbdExportCatalog over named MemoryExports. Tests may hook Open (to gate or refuse it)
// and read back what the server asked for.
using Ironclad.Nbd.Exports;

namespace Ironclad.Nbd.Tests.Support;

internal sealed class MemoryCatalog : INbdExportCatalog
{
    private readonly Lock _lock = new();
    private readonly List<(string Name, string? Description, MemoryExport Export)> _exports = [];
    private readonly List<NbdClient> _openedBy = [];

    /// <summary>Runs before every Open (after the name was found); tests use it to hold the server inside NBD_OPT_GO.</summary>
    public Action<string>? BeforeOpen { get; set; }

    /// <summary>Every client the server passed to Open, in order (what an export sees of its client).</summary>
    public IReadOnlyList<NbdClient> OpenedBy
    {
        get
        {
            lock (_lock)
            {
                return [.. _openedBy];
            }
        }
    }

    public MemoryCatalog Add(string name, MemoryExport export, string? description = null)
    {
        lock (_lock)
        {
            _exports.Add((name, description, export));
        }

        return this;
    }

    public MemoryExport this[string name]
    {
        get
        {
            lock (_lock)
            {
                return _exports.Single(e => e.Name == name).Export;
            }
        }
    }

    /// <summary>Every export that some connection still holds open.</summary>
    public int OpenHandles
    {
        get
        {
            lock (_lock)
            {
                return _exports.Sum(e => e.Export.OpenCount);
            }
        }
    }

    public IReadOnlyList<NbdExportDescription> List(NbdClient client)
    {
        lock (_lock)
        {
            return [.. _exports.Select(Describe)];
        }
    }

    public NbdExportDescription? Describe(string name, NbdClient client)
    {
        lock (_lock)
        {
            return _exports.Where(e => e.Name == name).Select(Describe).FirstOrDefault();
        }
    }

    public INbdExport? Open(string name, NbdClient client)
    {
        MemoryExport? export;
        lock (_lock)
        {
            export = _exports.Where(e => e.Name == name).Select(e => e.Export).FirstOrDefault();
            _openedBy.Add(client);
        }

        if (export is null)
        {
            return null;
        }

        BeforeOpen?.Invoke(name);
        return export.Open();
    }

    private static NbdExportDescription Describe((string Name, string? Description, MemoryExport Export) entry) =>
        new(entry.Name, entry.Description, entry.Export.SizeBytes, entry.Export.IsReadOnly, entry.Export.CanMultiConnect);
}
