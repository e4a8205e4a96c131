// The adapter `ironclad` itself serves storage volumes through (src/Ironclad.Host/Exports/
// VolumeExport.cs: errno mapping, allocation extents, flush on close), so in-process tests exercise
// the same code path as the process. It is internal to the ironclad assembly and this project has
// no InternalsVisibleTo yet, so it is constructed by reflection here, in this one place; once
// Ironclad.Host grants InternalsVisibleTo("Ironclad.Interop.Tests") this becomes `new VolumeExport(volume)`.
using System.Reflection;
using System.Runtime.ExceptionServices;
using Ironclad.Nbd.Exports;
using Ironclad.Storage;

namespace Ironclad.Interop.Tests.Support;

internal static class HostVolumeExport
{
    private const string AssemblyName = "ironclad";
    private const string TypeName = "Ironclad.Host.Exports.VolumeExport";

    private static readonly Lazy<ConstructorInfo> Constructor = new(FindConstructor);

    /// <summary>A VolumeExport over <paramref name="volume"/>; disposing it disposes (and flushes) the volume.</summary>
    public static INbdExport Create(Volume volume)
    {
        ArgumentNullException.ThrowIfNull(volume);
        try
        {
            return (INbdExport)Constructor.Value.Invoke([volume]);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }

    private static ConstructorInfo FindConstructor()
    {
        var assembly = Assembly.Load(new AssemblyName(AssemblyName));
        var type = assembly.GetType(TypeName, throwOnError: false)
            ?? throw new InvalidOperationException($"{assembly.FullName} has no type {TypeName}; was the host's volume export moved or renamed?");
        if (!typeof(INbdExport).IsAssignableFrom(type))
        {
            throw new InvalidOperationException($"{TypeName} no longer implements {nameof(INbdExport)}.");
        }

        return type.GetConstructor(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance, [typeof(Volume)])
            ?? throw new InvalidOperationException($"{TypeName} has no constructor taking a {nameof(Volume)}.");
    }
}
